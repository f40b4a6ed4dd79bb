"""Keras' values for the activation layers ReLU, Softmax and ELU: activation_layers.json.

Run with Keras 3 (any backend): `KERAS_BACKEND=jax python3 generate_activation_layers.py`. Each case holds
the layer's `get_config()`, an input `x`, the output `y`, an `upstream` gradient and `dx`, the gradient
of sum(y * upstream) with respect to x, as keras-reference/layers.json does.
"""
import json
import os

import keras
import numpy as np

rng = np.random.default_rng(11)


def array(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(str(v)) for v in a.reshape(-1)]}  # shortest float32 text


def vjp(layer, x, upstream):
    import jax

    y, pullback = jax.vjp(lambda t: layer(t), x)
    return np.asarray(y), np.asarray(pullback(upstream)[0])


CASES = [
    ("ReLU", {}),
    ("ReLU", {"max_value": 6.0}),
    ("ReLU", {"negative_slope": 0.1}),
    ("ReLU", {"threshold": 0.5}),
    ("ReLU", {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.3}),
    ("Softmax", {}),
    ("Softmax", {"axis": 1}),
    ("ELU", {}),
    ("ELU", {"alpha": 0.5}),
]

cases = []
for name, arguments in CASES:
    layer = getattr(keras.layers, name)(**arguments)
    # Away from the kinks (0, the threshold, max_value) so that finite differences agree.
    x = rng.uniform(-2.5, 7.5, size=(2, 3, 4)).astype(np.float32)
    for kink in (0.0, 0.3, 0.5, 1.0, 6.0):
        x = np.where(np.abs(x - kink) < 0.05, x + 0.1, x).astype(np.float32)
    upstream = rng.normal(size=x.shape).astype(np.float32)
    y, dx = vjp(layer, x, upstream)
    config = layer.get_config()
    config.pop("dtype", None)
    cases.append({
        "layer": name, "config": config, "x": array(x), "y": array(y),
        "upstream": array(upstream), "dx": array(dx),
        "weights": [], "weight_names": [], "d_weights": [],
    })

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "activation_layers.json")
with open(out, "w") as f:
    json.dump({"generator": f"keras {keras.__version__}, {keras.backend.backend()} backend",
               "cases": cases}, f, indent=1)
print(f"wrote {len(cases)} cases to {out}")
