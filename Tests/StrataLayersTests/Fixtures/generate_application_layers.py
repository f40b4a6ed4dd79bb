"""Keras' values for the layers the Keras application models need: application_layers.json, in
layers.json's format.

Run with Keras 3 on JAX: `KERAS_BACKEND=jax python3 generate_application_layers.py`; each case is
keras_cases.make_case's.
"""
import json
import os

import keras
import numpy as np
from keras_cases import array, make_case

rng = np.random.default_rng(5)


IMAGES = (2, 5, 4, 3)
CASES = [
    ("DepthwiseConv2D", "3x3 valid", dict(kernel_size=3), (2, 7, 6, 17)),
    ("DepthwiseConv2D", "3x3 stride 2 same, multiplier 2",
     dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2), (2, 7, 6, 17)),
    ("DepthwiseConv2D", "2x3 dilation 2 same, relu, no bias",
     dict(kernel_size=(2, 3), dilation_rate=2, padding="same", activation="relu", use_bias=False),
     (2, 7, 6, 17)),
    ("DepthwiseConv2D", "MobileNet's 3x3 stride 2 valid, no bias",
     dict(kernel_size=3, strides=2, use_bias=False), (2, 7, 6, 17)),
    ("SeparableConv2D", "3x3 valid", dict(filters=5, kernel_size=3), (2, 7, 6, 4)),
    ("SeparableConv2D", "3x3 stride 2 same, multiplier 2",
     dict(filters=4, kernel_size=3, strides=2, padding="same", depth_multiplier=2), (2, 7, 6, 4)),
    ("SeparableConv2D", "2x3 dilation 2 same, relu, no bias",
     dict(filters=6, kernel_size=(2, 3), dilation_rate=2, padding="same", activation="relu",
          use_bias=False), (2, 7, 6, 4)),
    ("Normalization", "adapted, per channel", dict(), IMAGES),
    ("Normalization", "adapted, per row and channel", dict(axis=[1, 3]), IMAGES),
    ("Normalization", "one mean and variance given", dict(axis=None, mean=0.5, variance=2.0), IMAGES),
    ("Normalization", "per-channel lists given, inverted",
     dict(mean=[0.1, -0.2, 0.3], variance=[0.5, 1.5, 4.0], invert=True), IMAGES),
    ("LayerNormalization", "last axis", dict(), IMAGES),
    ("LayerNormalization", "ConvNeXt's epsilon", dict(epsilon=1e-6), (2, 3, 7)),
    ("LayerNormalization", "three axes, no center", dict(axis=[1, 2, 3], center=False), IMAGES),
    ("LayerNormalization", "axes 1 and 3, no scale", dict(axis=[3, 1], scale=False), IMAGES),
    ("Rescaling", "per-channel scale and offset",
     dict(scale=[0.5, 2.0, -1.0], offset=[0.1, 0.0, -0.3]), IMAGES),
    ("Rescaling", "per-channel scale, one offset", dict(scale=[0.25, 4.0, 1.0], offset=-1.0), IMAGES),
    ("Conv2DTranspose", "3x3 valid", dict(filters=4, kernel_size=3), IMAGES),
    ("Conv2DTranspose", "3x3 stride 2 same", dict(filters=4, kernel_size=3, strides=2, padding="same"),
     IMAGES),
    ("Conv2DTranspose", "2x2 stride 2 valid, relu, no bias (a U-Net's up step)",
     dict(filters=5, kernel_size=2, strides=2, activation="relu", use_bias=False), IMAGES),
    ("Conv2DTranspose", "3x2 stride (2, 3) valid, output_padding (1, 2)",
     dict(filters=3, kernel_size=(3, 2), strides=(2, 3), output_padding=(1, 2)), IMAGES),
    ("Conv2DTranspose", "3x3 stride 2 same, output_padding 0",
     dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=0), IMAGES),
    ("Conv2DTranspose", "1x4 stride 3 valid (kernel below the stride)",
     dict(filters=2, kernel_size=(1, 2), strides=3), IMAGES),
    ("Conv2DTranspose", "3x3 dilation 2 same", dict(filters=3, kernel_size=3, dilation_rate=2,
                                                     padding="same"), IMAGES),
    ("UpSampling2D", "nearest 2x2", dict(), IMAGES),
    ("UpSampling2D", "nearest (3, 2)", dict(size=(3, 2)), IMAGES),
    ("UpSampling2D", "bilinear (2, 3)", dict(size=(2, 3), interpolation="bilinear"), IMAGES),
    ("Permute", "images (3, 1, 2)", dict(dims=(3, 1, 2)), IMAGES),
    ("Permute", "sequences (2, 1)", dict(dims=(2, 1)), (2, 3, 5)),
    ("RepeatVector", "3 times", dict(n=3), (2, 5)),
    ("Cropping2D", "((1, 0), (2, 1))", dict(cropping=((1, 0), (2, 1))), IMAGES),
]

cases = []
for name, description, arguments, shape in CASES:
    x = rng.uniform(-1, 1, size=shape).astype(np.float32)
    cases.append(make_case(getattr(keras.layers, name)(**arguments), name, description, x, rng))

# Normalization.adapt: the statistics Keras learns from the data as one array; Strata is given it in
# batches too (Keras' running formula is exact, so the same statistics must come out).
adapt = []
for axis, batches in [(-1, [(6, 4, 3)]), ([1, 2], [(4, 5, 2), (3, 5, 2), (5, 5, 2)]),
                      (None, [(7, 3)])]:
    data = [rng.normal(2, 3, size=b).astype(np.float32) for b in batches]
    layer = keras.layers.Normalization(axis=axis)
    layer.adapt(np.concatenate(data))
    adapt.append({"axis": axis, "batches": [array(d) for d in data],
                  "mean": array(layer.adapt_mean), "variance": array(layer.adapt_variance)})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "application_layers.json")
with open(out, "w") as f:
    json.dump({"generator": f"keras {keras.__version__}, {keras.backend.backend()} backend",
               "cases": cases, "adapt": adapt}, f)
print(f"wrote {len(cases)} cases and {len(adapt)} adapt cases to {out}")
