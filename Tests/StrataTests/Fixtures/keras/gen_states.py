"""Keras 3 models whose layers give or take more than one tensor: return_state and initial_state
(an encoder-decoder), Bidirectional(merge_mode=None), return_attention_scores.

usage: KERAS_BACKEND=jax PY gen_states.py OUT_DIR
Writes NAME.keras and NAME.expected.json in gen_sequences.py's format ("input" and "input_shape" are
lists, one per model input, as tiny_two_inputs'; "output" one per model output). Every vector weight is
drawn at random so that a loader mixing up weight order fails.
"""
import json, os, sys
os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np
import keras
from keras import layers

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
keras.utils.set_random_seed(5)
V, T = 30, 7


def ints(shape, seed):
    r = np.random.default_rng(seed)
    x = r.integers(1, V, size=shape).astype(np.int32)
    for i in range(shape[0]):
        n = r.integers(0, shape[1] // 2)
        if n:
            x[i, -n:] = 0
    return x


def lstm_seq2seq():
    """The Keras character-level seq2seq example's shape: the encoder's states start the decoder."""
    encoder_inputs = keras.Input((T,), dtype="int32")
    _, h, c = layers.LSTM(6, return_state=True)(layers.Embedding(V, 5, mask_zero=True)(encoder_inputs))
    decoder_inputs = keras.Input((T - 2,), dtype="int32")
    decoded = layers.LSTM(6, return_sequences=True)(layers.Embedding(V, 5)(decoder_inputs), initial_state=[h, c])
    outputs = layers.Dense(V, activation="softmax")(decoded)
    return keras.Model([encoder_inputs, decoder_inputs], outputs), [ints((3, T), 1), ints((3, T - 2), 2)]


def gru_states():
    """A GRU's sequences and final state as two outputs; a SimpleRNN started from a Dense state."""
    inputs = keras.Input((T, 4))
    seq, state = layers.GRU(5, return_sequences=True, return_state=True, go_backwards=True)(inputs)
    start = layers.Dense(3, activation="tanh")(state)
    last = layers.SimpleRNN(3)(seq, initial_state=start)
    return keras.Model(inputs, [last, state]), [np.random.default_rng(3).normal(0, 1, (3, T, 4)).astype(np.float32)]


def bidirectional_pair():
    """Bidirectional(merge_mode=None): the two directions as two outputs."""
    inputs = keras.Input((T, 3))
    forward, backward = layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode=None)(inputs)
    return keras.Model(inputs, [forward, layers.Dense(2)(backward)]), [
        np.random.default_rng(4).normal(0, 1, (3, T, 3)).astype(np.float32)]


def attention_scores():
    """MultiHeadAttention(return_attention_scores=True): the output and the probabilities."""
    query, value = keras.Input((4, 6)), keras.Input((T, 5))
    output, scores = layers.MultiHeadAttention(2, 3, dropout=0.1)(query, value, return_attention_scores=True)
    rng = np.random.default_rng(6)
    return keras.Model([query, value], [output, scores]), [
        rng.normal(0, 1, (3, 4, 6)).astype(np.float32), rng.normal(0, 1, (3, T, 5)).astype(np.float32)]


for i, (name, make) in enumerate([("lstm_seq2seq", lstm_seq2seq), ("gru_states", gru_states),
                                  ("bidirectional_pair", bidirectional_pair),
                                  ("attention_scores", attention_scores)]):
    model, xs = make()
    rng = np.random.default_rng(200 + i)
    for w in model.weights:
        v = np.asarray(w.numpy())
        if v.ndim == 1:
            w.assign(rng.normal(0, 0.2, v.shape).astype(np.float32))
    ys = model.predict(xs, verbose=0)
    ys = ys if isinstance(ys, list) else [ys]
    model.save(f"{OUT}/{name}.keras")
    json.dump({"input": [x.astype(np.float64).tolist() for x in xs], "input_shape": [list(x.shape) for x in xs],
               "output": [np.asarray(y).astype(np.float64).tolist() for y in ys],
               "output_shape": [list(np.asarray(y).shape) for y in ys],
               "tolerance": {"atol": 1e-5, "rtol": 1e-4},
               "parameters": model.count_params(),
               "layers": sorted({l.__class__.__name__ for l in model.layers})}, open(f"{OUT}/{name}.expected.json", "w"))
    print(name, model.count_params(), [np.asarray(y).shape for y in ys], flush=True)
