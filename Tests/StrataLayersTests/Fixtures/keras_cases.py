"""What the layer fixture generators share: a layer's case in layers.json's format.

A case holds the layer's `get_config()`, an input `x`, the weights in Keras order (trainable, then
non-trainable), the inference output `y`, an `upstream` gradient, and the gradients of
sum(y * upstream) with respect to `x` (`dx`; zeros for integer ids) and to each trainable weight
(`d_weights`).
"""
import jax
import numpy as np


def array(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(str(v)) for v in a.reshape(-1)]}  # shortest float32 text


def weight_values(layer, rng):
    """Random weights; a variance stays positive and Normalization's count 0, as adapt leaves it."""
    values = []
    for w in layer.weights:
        if w.name == "variance":
            values.append(rng.uniform(0.2, 2, size=w.shape).astype(np.float32))
        elif w.name == "count":
            values.append(np.zeros(w.shape, dtype=w.dtype))
        elif w.name == "gamma":
            values.append(rng.uniform(0.5, 1.5, size=w.shape).astype(np.float32))
        else:
            values.append(rng.uniform(-0.5, 0.5, size=w.shape).astype(np.float32))
    return values


def make_case(layer, name, description, x, rng, tolerance=None):
    """Builds `layer` for `x`, gives it random weights and records Keras' outputs and gradients."""
    layer.build(x.shape)
    weights = weight_values(layer, rng)
    layer.set_weights(weights)
    if hasattr(layer, "finalize_state"):
        layer.finalize_state()  # Normalization reads its weights there (loading a file calls it)
    y = np.asarray(layer(x))
    upstream = rng.normal(size=y.shape).astype(np.float32)
    trainable = [np.asarray(v) for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    integer = np.issubdtype(x.dtype, np.integer)

    def forward(x_float, trainable):
        inputs = x if integer else x_float
        out, _ = layer.stateless_call(trainable, non_trainable, inputs)
        return out

    _, pullback = jax.vjp(forward, x.astype(np.float32), trainable)
    dx, d_weights = pullback(upstream)
    config = layer.get_config()
    config.pop("dtype", None)
    return {
        "layer": name, "desc": description, "config": config, "x": array(x),
        "weights": [array(w) for w in weights],
        "weight_names": [w.name for w in layer.weights],
        "y": array(y), "upstream": array(upstream),
        "dx": array(np.zeros(x.shape) if integer else dx),
        "d_weights": [array(d) for d in d_weights],
        "tolerance": tolerance or {"rtol": 1e-4, "atol": 1e-5},
    }


def make_merge_case(layer, name, description, inputs, rng, as_list=False, masks=None, call=None,
                    tolerance=None):
    """make_case for a layer of several inputs: `inputs` (float arrays) are passed as arguments, or
    as one list when `as_list`; `masks` (0/1 arrays or None, one per input) as Keras' masks, and
    `call` as keyword arguments. Records `d_inputs`, one gradient per input."""
    call = dict(call or {})
    layer.build(*( [[x.shape for x in inputs]] if as_list else [x.shape for x in inputs]))
    weights = weight_values(layer, rng)
    layer.set_weights(weights)
    mask_kwargs = {}
    if masks is not None:
        bools = [None if m is None else m.astype(bool) for m in masks]
        if as_list:
            mask_kwargs["mask"] = bools
        else:
            for key, m in zip(["query_mask", "value_mask", "key_mask"], bools):
                if m is not None:
                    mask_kwargs[key] = m
    trainable = [np.asarray(v) for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def forward(xs, trainable):
        args = [list(xs)] if as_list else list(xs)
        out, _ = layer.stateless_call(trainable, non_trainable, *args, **mask_kwargs, **call)
        return out

    y, pullback = jax.vjp(forward, [x.astype(np.float32) for x in inputs], trainable)
    upstream = rng.normal(size=y.shape).astype(np.float32)
    d_inputs, d_weights = pullback(upstream)
    config = layer.get_config()
    config.pop("dtype", None)
    return {
        "layer": name, "desc": description, "config": config,
        "inputs": [array(x) for x in inputs],
        "masks": None if masks is None else [None if m is None else array(m) for m in masks],
        "call": call, "weights": [array(w) for w in weights],
        "weight_names": [w.name for w in layer.weights],
        "y": array(y), "upstream": array(upstream),
        "d_inputs": [array(d) for d in d_inputs], "d_weights": [array(d) for d in d_weights],
        "tolerance": tolerance or {"rtol": 1e-4, "atol": 1e-5},
    }
