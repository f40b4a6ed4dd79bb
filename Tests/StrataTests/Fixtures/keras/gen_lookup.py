"""Keras 3 models with an IntegerLookup layer inside the graph: integer inputs mapped to vocabulary
indices, one-hot, multi-hot, count or tf-idf columns, or inverted back to the integers. The
vocabulary is in the layer's config when it was given, in the file's assets when adapted (tf-idf
weights in model.weights.h5), as Keras keeps them.

usage: KERAS_BACKEND=tensorflow PY gen_lookup.py OUT_DIR   (IntegerLookup needs TensorFlow)
Writes NAME.keras and NAME.expected.json: "input" (the model's integer input), "lookup" (the
IntegerLookup layer's output), "output" (the model's), "vocabulary" and "tolerance".
"""
import json, os, sys
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
import tensorflow as tf
from keras import layers

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
keras.utils.set_random_seed(17)

# Adapted on this: 7 most often, then 3, then 9 and 4 (ties: the larger value first, as Keras).
DATA = np.array([[7, 3, 9, 7], [4, 7, 3, 3], [7, 9, 4, 11], [2, 7, 3, 5]])


def integer_lookup_int():
    """Given vocabulary; unknown values share index 0; embedded: a functional model."""
    lookup = layers.IntegerLookup(vocabulary=[12, 36, 1138, 42])
    inputs = keras.Input(shape=(3,), dtype="int64")
    y = layers.Flatten()(layers.Embedding(lookup.vocabulary_size(), 4)(lookup(inputs)))
    x = np.array([[12, 42, 7], [1138, -3, 36], [0, 12, 12], [42, 42, 5]])
    return keras.Model(inputs, layers.Dense(2)(y)), lookup, x


def integer_lookup_multi_hot():
    """A mask token and two out-of-vocabulary indices (value mod 2), multi-hot: a Sequential model."""
    lookup = layers.IntegerLookup(vocabulary=[3, 5, 8, 13, 21], num_oov_indices=2, mask_token=0,
                                  output_mode="multi_hot")
    model = keras.Sequential([keras.Input(shape=(4,), dtype="int64"), lookup, layers.Dense(3)])
    x = np.array([[3, 0, 0, 0], [5, 8, 7, 4], [21, 21, 13, 0], [9, 11, 3, 6]])
    return model, lookup, x


def integer_lookup_tf_idf():
    """Adapted (the vocabulary in the file's assets), tf-idf padded to max_tokens."""
    lookup = layers.IntegerLookup(max_tokens=8, output_mode="tf_idf", pad_to_max_tokens=True)
    lookup.adapt(DATA)
    inputs = keras.Input(shape=(4,), dtype="int64")
    x = np.array([[7, 7, 3, 1], [9, 4, 4, 4], [100, 2, 5, 11], [3, 3, 3, 3]])
    return keras.Model(inputs, layers.Dense(2)(lookup(inputs))), lookup, x


def integer_lookup_one_hot():
    """Adapted with a mask token, one-hot of a single value per sample: a Sequential model."""
    lookup = layers.IntegerLookup(mask_token=-1, output_mode="one_hot")
    lookup.adapt(DATA.reshape(-1))
    model = keras.Sequential([keras.Input(shape=(1,), dtype="int64"), lookup, layers.Dense(2)])
    x = np.array([[7], [-1], [11], [42]])
    return model, lookup, x


def integer_lookup_count():
    """No out-of-vocabulary index (every value known), counts."""
    lookup = layers.IntegerLookup(vocabulary=[2, 4, 6, 8], num_oov_indices=0, output_mode="count")
    inputs = keras.Input(shape=(5,), dtype="int32")
    x = np.array([[2, 2, 4, 8, 8], [6, 6, 6, 6, 6], [8, 4, 2, 6, 4], [2, 4, 6, 8, 2]])
    return keras.Model(inputs, layers.Dense(2)(lookup(inputs))), lookup, x


def integer_lookup_invert():
    """Indices back to the values (the mask index 0 gives the mask token, unknown ones -1)."""
    lookup = layers.IntegerLookup(vocabulary=[10, 20, 30], mask_token=0, invert=True)
    inputs = keras.Input(shape=(3,), dtype="int64")
    x = np.array([[0, 1, 2], [3, 4, 9], [2, 2, 0], [4, 3, 1]])
    return keras.Model(inputs, lookup(inputs)), lookup, x


for i, make in enumerate([integer_lookup_int, integer_lookup_multi_hot, integer_lookup_tf_idf,
                          integer_lookup_one_hot, integer_lookup_count, integer_lookup_invert]):
    name = make.__name__
    model, lookup, x = make()
    rng = np.random.default_rng(400 + i)
    for w in model.weights:
        v = np.asarray(w.numpy())
        if v.ndim == 1 and w.trainable:
            w.assign(rng.normal(0, 0.2, v.shape).astype(np.float32))
    y = np.asarray(model.predict(x, verbose=0))
    looked_up = np.asarray(lookup(tf.constant(x, dtype=lookup.vocabulary_dtype)))
    model.save(f"{OUT}/{name}.keras")
    json.dump({"input": x.astype(np.float64).tolist(),
               "lookup": looked_up.astype(np.float64).tolist(),
               "output": y.astype(np.float64).tolist(), "output_shape": list(y.shape),
               "vocabulary": [int(v) for v in lookup.get_vocabulary()],
               "tolerance": {"atol": 1e-5, "rtol": 1e-4}}, open(f"{OUT}/{name}.expected.json", "w"))
    print(name, model.count_params(), y.shape, flush=True)
