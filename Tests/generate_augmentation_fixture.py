"""Writes Tests/StrataLayersTests/Fixtures/augmentation.json: Keras 3's outputs for the deterministic
image layers (Resizing, CenterCrop) and RandomContrast / RandomBrightness with a transform read back
from Keras' own draw, on fixed inputs.
    KERAS_BACKEND=jax python Tests/generate_augmentation_fixture.py"""
import json
import os

import keras
import numpy as np

rng = np.random.default_rng(0)
x = (rng.random((2, 9, 6, 2)) * 255).astype(np.float32)
cases = []
for config in [dict(height=5, width=7), dict(height=12, width=4), dict(height=3, width=3)]:
    y = keras.layers.Resizing(**config)(x)
    cases.append({"layer": "Resizing", "config": config, "output": np.asarray(y).tolist(), "shape": list(y.shape)})
for config in [dict(height=4, width=3), dict(height=9, width=6), dict(height=12, width=8), dict(height=5, width=10)]:
    y = keras.layers.CenterCrop(**config)(x)
    cases.append({"layer": "CenterCrop", "config": config, "output": np.asarray(y).tolist(), "shape": list(y.shape)})
# RandomContrast and RandomBrightness: Keras' transform applied with a known factor.
contrast = keras.layers.RandomContrast(0.5)
factor = np.array([0.7, 1.4], dtype=np.float32).reshape(2, 1, 1, 1)
y = contrast.transform_images(x, {"contrast_factor": factor}, training=True)
cases.append({"layer": "RandomContrast", "config": {"factor": 0.5}, "factors": [0.7, 1.4], "output": np.asarray(y).tolist(), "shape": list(y.shape)})
brightness = keras.layers.RandomBrightness(0.5)
delta = np.array([-60.0, 90.0], dtype=np.float32).reshape(2, 1, 1, 1)
y = brightness.transform_images(x, {"rgb_delta": delta}, training=True)
cases.append({"layer": "RandomBrightness", "config": {"factor": 0.5}, "deltas": [-60.0, 90.0], "output": np.asarray(y).tolist(), "shape": list(y.shape)})
out = {"generator": f"keras {keras.__version__}, backend {keras.backend.backend()}", "input": x.tolist(), "input_shape": list(x.shape), "cases": cases}
path = os.path.join(os.path.dirname(__file__), "StrataLayersTests", "Fixtures", "augmentation.json")
json.dump(out, open(path, "w"))
print("wrote", path)
