"""Keras' values for the sequence layers: sequence_layers.json, in layers.json's format.

Run with Keras 3 on JAX: `KERAS_BACKEND=jax python3 generate_sequence_layers.py`; each case is
keras_cases.make_case's (integer ids for Embedding, whose `dx` is zeros).
"""
import json
import os

import keras
import numpy as np
from keras_cases import make_case

rng = np.random.default_rng(11)
SEQUENCES = (2, 7, 3)
IDS = "ids"
CASES = [
    ("Embedding", "ids of a vocabulary of 6", dict(input_dim=6, output_dim=4), (IDS, (2, 5), 6)),
    ("Embedding", "ids of any rank", dict(input_dim=9, output_dim=3),
     (IDS, (2, 3, 4), 9)),
    ("Conv1D", "kernel 3 valid", dict(filters=4, kernel_size=3), SEQUENCES),
    ("Conv1D", "kernel 3 stride 2 same, relu", dict(filters=2, kernel_size=3, strides=2, padding="same",
                                                    activation="relu"), SEQUENCES),
    ("Conv1D", "kernel 2 causal, dilation 2, no bias",
     dict(filters=3, kernel_size=2, padding="causal", dilation_rate=2, use_bias=False), SEQUENCES),
    ("Conv1D", "kernel 4 same (even)", dict(filters=2, kernel_size=4, padding="same"), SEQUENCES),
    ("MaxPooling1D", "2 valid", dict(pool_size=2), SEQUENCES),
    ("MaxPooling1D", "3 stride 2 same", dict(pool_size=3, strides=2, padding="same"), SEQUENCES),
    ("AveragePooling1D", "2 same", dict(pool_size=2, padding="same"), SEQUENCES),
    ("AveragePooling1D", "3 stride 1 valid", dict(pool_size=3, strides=1), SEQUENCES),
    ("GlobalMaxPooling1D", "steps", dict(), SEQUENCES),
    ("GlobalAveragePooling1D", "steps, keepdims", dict(keepdims=True), SEQUENCES),
    ("SimpleRNN", "last output", dict(units=4), SEQUENCES),
    ("SimpleRNN", "sequences, backwards, relu", dict(units=3, return_sequences=True, go_backwards=True,
                                                     activation="relu"), SEQUENCES),
    ("LSTM", "last output", dict(units=4), SEQUENCES),
    ("LSTM", "sequences, no forget bias, hard_sigmoid gates",
     dict(units=3, return_sequences=True, unit_forget_bias=False, recurrent_activation="hard_sigmoid"),
     SEQUENCES),
    ("LSTM", "backwards, no bias", dict(units=2, go_backwards=True, use_bias=False), SEQUENCES),
    ("GRU", "reset_after, last output", dict(units=4), SEQUENCES),
    ("GRU", "reset_after, sequences, backwards", dict(units=3, return_sequences=True, go_backwards=True),
     SEQUENCES),
    ("GRU", "reset before, sequences", dict(units=3, reset_after=False, return_sequences=True), SEQUENCES),
    ("GRU", "no bias", dict(units=2, use_bias=False), SEQUENCES),
    ("UpSampling1D", "size 3", dict(size=3), SEQUENCES),
    ("ZeroPadding1D", "(2, 1)", dict(padding=(2, 1)), SEQUENCES),
    ("ZeroPadding1D", "1", dict(), SEQUENCES),
    ("Cropping1D", "(1, 2)", dict(cropping=(1, 2)), SEQUENCES),
    ("Bidirectional", "LSTM sequences, concat",
     dict(layer=keras.layers.LSTM(3, return_sequences=True)), SEQUENCES),
    ("Bidirectional", "GRU last output, ave", dict(layer=keras.layers.GRU(2), merge_mode="ave"), SEQUENCES),
    ("Bidirectional", "SimpleRNN sequences, mul",
     dict(layer=keras.layers.SimpleRNN(3, return_sequences=True), merge_mode="mul"), SEQUENCES),
    ("Bidirectional", "LSTM sum, backward layer given",
     dict(layer=keras.layers.LSTM(2), merge_mode="sum",
          backward_layer=keras.layers.LSTM(2, go_backwards=True, activation="relu")), SEQUENCES),
    ("TimeDistributed", "Dense", dict(layer=keras.layers.Dense(4, activation="tanh")), SEQUENCES),
    ("TimeDistributed", "Conv1D on each of 2 sequences",
     dict(layer=keras.layers.Conv1D(2, 2)), (2, 2, 5, 3)),
    # EinsumDense last: the cases above keep their random draws.
    ("EinsumDense", "abc,cd->abd (Dense over the last axis), bias d",
     dict(equation="abc,cd->abd", output_shape=(None, 4), bias_axes="d"), SEQUENCES),
    ("EinsumDense", "abc,cde->abde (into heads), bias de, tanh",
     dict(equation="abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de", activation="tanh"),
     SEQUENCES),
    ("EinsumDense", "abc,bcd->ad (the steps summed away), no bias",
     dict(equation="abc,bcd->ad", output_shape=4), SEQUENCES),
    ("EinsumDense", "...b,bc->...c, bias c", dict(equation="...b,bc->...c", output_shape=5, bias_axes="c"),
     SEQUENCES),
    ("EinsumDense", "abcd,cde->abe (heads back), bias e", dict(equation="abcd,cde->abe", output_shape=(None, 3),
                                                                bias_axes="e"), (2, 4, 2, 3)),
]

cases = []
for name, description, arguments, shape in CASES:
    if shape[0] == IDS:
        x = rng.integers(0, shape[2], size=shape[1]).astype(np.int32)
    else:
        x = rng.uniform(-1, 1, size=shape).astype(np.float32)
    cases.append(make_case(getattr(keras.layers, name)(**arguments), name, description, x, rng))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sequence_layers.json")
with open(out, "w") as f:
    json.dump({"generator": f"keras {keras.__version__}, {keras.backend.backend()} backend",
               "cases": cases}, f)
print(f"wrote {len(cases)} cases to {out}")
