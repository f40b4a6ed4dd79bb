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

# The affine layers, with given transforms: translations per fill mode and interpolation, zooms, rotations.
import keras.ops as ops
affine = []
small = (rng.random((2, 7, 5, 2)) * 255).astype(np.float32)
for fill_mode in ["reflect", "wrap", "constant", "nearest"]:
    for interpolation in ["bilinear", "nearest"]:
        layer = keras.layers.RandomTranslation(0.5, 0.5, fill_mode=fill_mode, interpolation=interpolation, fill_value=7.0)
        translations = np.array([[1.6, -2.3], [-3.2, 0.7]], dtype=np.float32)  # (dx, dy) per image
        y = layer.transform_images(small, {"translations": translations, "input_shape": small.shape}, training=True)
        affine.append({"layer": "RandomTranslation", "fill_mode": fill_mode, "interpolation": interpolation,
                       "translations": translations.tolist(), "output": np.asarray(y).tolist()})
zoom = keras.layers.RandomZoom(0.5, 0.5)
zooms = {"height_zoom": np.array([[0.7], [1.3]], dtype=np.float32), "width_zoom": np.array([[1.2], [0.8]], dtype=np.float32), "input_shape": small.shape}
y = zoom.transform_images(small, zooms, training=True)
affine.append({"layer": "RandomZoom", "fill_mode": "reflect", "interpolation": "bilinear", "height_zoom": [0.7, 1.3], "width_zoom": [1.2, 0.8], "output": np.asarray(y).tolist()})
rotation = keras.layers.RandomRotation(0.5)
angles = np.array([30.0, -100.0], dtype=np.float32)
matrix = rotation._compute_affine_matrix(center_x=0.5, center_y=0.5, angle=ops.convert_to_tensor(angles), translate_x=ops.zeros([2]), translate_y=ops.zeros([2]), scale=ops.ones([2]), shear_x=ops.zeros([2]), shear_y=ops.zeros([2]), height=7, width=5)
y = rotation.transform_images(small, {"angle": angles, "rotation_matrix": matrix, "image_height": 7, "image_width": 5, "batch_size": 2}, training=True)
affine.append({"layer": "RandomRotation", "fill_mode": "reflect", "interpolation": "bilinear", "angles": angles.tolist(), "output": np.asarray(y).tolist()})
out["affine_input"] = small.tolist()
out["affine"] = affine
json.dump(out, open(path, "w"))
print("wrote affine cases", len(affine))
