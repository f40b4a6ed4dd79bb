"""Keras' values for the attention layers: attention_layers.json.

Run with Keras 3 on JAX: `KERAS_BACKEND=jax python3 generate_attention_layers.py`. Each case is
keras_cases.make_merge_case's: several inputs, optional Keras masks and call keywords, the output
and the gradients of sum(y * upstream) for every input and trainable weight. MultiHeadAttention
cases with a value_dim other than key_dim use dropout 0.1 (inactive in these inference calls) so
Keras takes its explicit path: on JAX its fused path refuses a separate value size.
"""
import json
import os

import keras
import numpy as np
from keras_cases import make_merge_case

rng = np.random.default_rng(12)


def seq(steps, features, batch=2):
    return rng.uniform(-1, 1, size=(batch, steps, features)).astype(np.float32)


def padding(lengths, steps):
    return np.array([[1.0 if t < n else 0.0 for t in range(steps)] for n in lengths], np.float32)


MHA = keras.layers.MultiHeadAttention
CASES = [
    ("MultiHeadAttention", "2 heads, self-attention shapes",
     lambda: MHA(num_heads=2, key_dim=3), [seq(4, 5), seq(6, 5)], {}),
    ("MultiHeadAttention", "value_dim 2, output_shape 7, a key of other features",
     lambda: MHA(num_heads=3, key_dim=2, value_dim=4, output_shape=7, dropout=0.1),
     [seq(4, 5), seq(6, 3), seq(6, 4)], {}),
    ("MultiHeadAttention", "causal, no bias",
     lambda: MHA(num_heads=2, key_dim=4, use_bias=False), [seq(5, 6), seq(5, 6)],
     {"call": {"use_causal_mask": True}}),
    ("MultiHeadAttention", "attention_mask",
     lambda: MHA(num_heads=1, key_dim=3), [seq(3, 4), seq(5, 4)],
     {"call_mask": True}),
    ("MultiHeadAttention", "query and value masks",
     lambda: MHA(num_heads=2, key_dim=2, dropout=0.1), [seq(4, 3), seq(5, 3)],
     {"keras_masks": [padding([4, 2], 4), padding([3, 5], 5)]}),
    ("Attention", "dot", lambda: keras.layers.Attention(), [seq(4, 3), seq(5, 3)], {"as_list": True}),
    ("Attention", "dot, scale, key, masks, causal",
     lambda: keras.layers.Attention(use_scale=True), [seq(4, 3), seq(4, 2), seq(4, 3)],
     {"as_list": True, "masks": [padding([4, 3], 4), padding([4, 2], 4), None],
      "call": {"use_causal_mask": True}}),
    ("Attention", "concat, scale",
     lambda: keras.layers.Attention(use_scale=True, score_mode="concat"), [seq(3, 4), seq(5, 4)],
     {"as_list": True}),
    ("AdditiveAttention", "scale", lambda: keras.layers.AdditiveAttention(),
     [seq(4, 3), seq(5, 3)], {"as_list": True}),
    ("AdditiveAttention", "no scale, value mask",
     lambda: keras.layers.AdditiveAttention(use_scale=False), [seq(3, 2), seq(4, 2)],
     {"as_list": True, "masks": [None, padding([2, 4], 4)]}),
]

cases = []
for name, description, make, inputs, options in CASES:
    call = dict(options.get("call", {}))
    if options.get("call_mask"):
        mask = (rng.uniform(size=(2, inputs[0].shape[1], inputs[1].shape[1])) > 0.4).astype(np.float32)
        mask[:, :, 0] = 1  # every query step sees a key step
        inputs = inputs + [inputs[1], mask]
    case_inputs = inputs
    if options.get("keras_masks"):
        # Keras reads a query's mask from the tensor it is attached to (a model's), not from the
        # `query_mask` argument; its attention mask is the two masks combined, given here as such.
        query_mask, value_mask = options["keras_masks"]
        combined = (query_mask[:, :, None] * value_mask[:, None, :]).astype(bool)
        case = make_merge_case(make(), name, description, inputs, rng,
                               call={**call, "attention_mask": combined})
        case["masks"] = [{"shape": list(m.shape), "data": [float(v) for v in m.reshape(-1)]}
                         for m in options["keras_masks"]]
        case["call"] = {}
    elif options.get("call_mask"):
        # The mask goes as a keyword; Strata takes it as the fourth input.
        query, value, key, mask = inputs
        case = make_merge_case(make(), name, description, [query, value, key], rng,
                               call={**call, "attention_mask": mask.astype(bool)})
        case["inputs"].append({"shape": list(mask.shape), "data": [float(v) for v in mask.reshape(-1)]})
        case["call"] = {}
        case["d_inputs"].append({"shape": list(mask.shape), "data": [0.0] * mask.size})
    else:
        case = make_merge_case(make(), name, description, case_inputs, rng,
                               as_list=options.get("as_list", False), masks=options.get("masks"),
                               call=call)
    cases.append(case)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention_layers.json")
with open(out, "w") as f:
    json.dump({"generator": f"keras {keras.__version__}, {keras.backend.backend()} backend",
               "cases": cases}, f)
print(f"wrote {len(cases)} cases to {out}")
