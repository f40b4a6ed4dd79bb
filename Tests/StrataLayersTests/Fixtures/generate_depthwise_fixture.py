"""Keras' values for DepthwiseConv2D: depthwise_conv2d.json, in layers.json's format.

Run with Keras 3 on JAX: `KERAS_BACKEND=jax python3 generate_depthwise_fixture.py`. Each case holds the
layer's `get_config()`, an input `x`, the weights in Keras order (`kernel`, the depthwise kernel, then `bias`), the
inference output `y`, an `upstream` gradient, and the gradients of sum(y * upstream) with respect to
`x` (`dx`) and to each weight (`d_weights`).
"""
import json
import os

import jax
import keras
import numpy as np

rng = np.random.default_rng(5)


def array(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(str(v)) for v in a.reshape(-1)]}  # shortest float32 text


CASES = [
    ("3x3 valid", dict(kernel_size=3)),
    ("3x3 stride 2 same, multiplier 2", dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2)),
    ("2x3 dilation 2 same, relu, no bias",
     dict(kernel_size=(2, 3), dilation_rate=2, padding="same", activation="relu", use_bias=False)),
    ("MobileNet's 3x3 stride 2 valid, no bias", dict(kernel_size=3, strides=2, use_bias=False)),
]

cases = []
for description, arguments in CASES:
    layer = keras.layers.DepthwiseConv2D(**arguments)
    x = rng.uniform(-1, 1, size=(2, 7, 6, 17)).astype(np.float32)
    layer.build(x.shape)
    weights = [rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32) for w in layer.weights]
    layer.set_weights(weights)
    y = np.asarray(layer(x))
    upstream = rng.normal(size=y.shape).astype(np.float32)

    def forward(x, weights):
        out, _ = layer.stateless_call(weights, [], x)
        return out

    _, pullback = jax.vjp(forward, x, weights)
    dx, d_weights = pullback(upstream)
    config = layer.get_config()
    config.pop("dtype", None)
    cases.append({
        "layer": "DepthwiseConv2D", "desc": description, "config": config, "x": array(x),
        "weights": [array(w) for w in weights],
        "weight_names": [w.name for w in layer.weights],
        "y": array(y), "upstream": array(upstream), "dx": array(dx),
        "d_weights": [array(d) for d in d_weights],
        "tolerance": {"rtol": 1e-4, "atol": 1e-5},
    })

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "depthwise_conv2d.json")
with open(out, "w") as f:
    json.dump({"generator": f"keras {keras.__version__}, {keras.backend.backend()} backend",
               "cases": cases}, f)
print(f"wrote {len(cases)} cases to {out}")
