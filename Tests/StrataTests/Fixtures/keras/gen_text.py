"""Keras 3 models whose input is text: Input(dtype="string") then TextVectorization or StringLookup,
the vocabulary adapted and kept in the file's assets as Keras keeps it (idf weights in
model.weights.h5).

usage: KERAS_BACKEND=tensorflow PY gen_text.py OUT_DIR   (TextVectorization needs TensorFlow)
Writes NAME.keras and NAME.expected.json: "texts" (the model's input), "vectorized" (the
TextVectorization or StringLookup layer's output), "output" (the model's), "output_shape" and "tolerance".
"""
import json, os, sys
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
import tensorflow as tf
from keras import layers

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
keras.utils.set_random_seed(11)

CORPUS = [
    "The cat sat on the mat.", "A dog ran far, far away!", "the dog sat on the cat",
    "Cats and dogs: friends or foes?", "Never trust a cat that sits on a mat",
    "Dogs run; cats sit.", "An apple a day keeps the doctor away", "The DOCTOR ran to the cat",
]
TEXTS = ["the cat ran", "Dogs, cats and apples!", "zebra unknown words here", "",
         "a mat a mat a mat", "THE Doctor sat on a dog far away today"]


def text_int():
    """Token ids padded to 8, embedded and pooled: a functional model."""
    vectorize = layers.TextVectorization(max_tokens=24, output_sequence_length=8)
    vectorize.adapt(CORPUS)
    inputs = keras.Input(shape=(1,), dtype="string")
    ids = vectorize(inputs)
    x = layers.Embedding(24, 5)(ids)  # no mask: an empty text would pool nothing (Keras: NaN)
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(x)), vectorize


def text_multi_hot():
    """Unigrams and bigrams as multi-hot columns in a Sequential model."""
    vectorize = layers.TextVectorization(max_tokens=30, ngrams=2, output_mode="multi_hot")
    vectorize.adapt(CORPUS)
    model = keras.Sequential([keras.Input(shape=(1,), dtype="string"), vectorize, layers.Dense(4, activation="relu"),
                              layers.Dense(2)])
    return model, vectorize


def text_tf_idf():
    """tf-idf columns padded to max_tokens, the idf weights in the weights file."""
    vectorize = layers.TextVectorization(max_tokens=20, output_mode="tf_idf", pad_to_max_tokens=True,
                                         standardize="lower")
    vectorize.adapt(CORPUS)
    inputs = keras.Input(shape=(1,), dtype="string")
    return keras.Model(inputs, layers.Dense(2)(vectorize(inputs))), vectorize


COLORS = ["red", "green", "blue", "red", "yellow", "green", "red", "cyan"]
SAMPLES = ["red", "purple", "green", "", "cyan", "blue"]


def string_lookup_int():
    """Category strings to indices (index 0 for unknown ones), embedded: a functional model."""
    lookup = layers.StringLookup()
    lookup.adapt(COLORS)
    inputs = keras.Input(shape=(1,), dtype="string")
    x = layers.Flatten()(layers.Embedding(lookup.vocabulary_size(), 3)(lookup(inputs)))
    return keras.Model(inputs, layers.Dense(2)(x)), lookup


def string_lookup_one_hot():
    """Category strings one-hot in a Sequential model."""
    lookup = layers.StringLookup(output_mode="one_hot")
    lookup.adapt(COLORS)
    model = keras.Sequential([keras.Input(shape=(1,), dtype="string"), lookup, layers.Dense(2)])
    return model, lookup


for i, (name, make) in enumerate([("text_int", text_int), ("text_multi_hot", text_multi_hot),
                                  ("text_tf_idf", text_tf_idf), ("string_lookup_int", string_lookup_int),
                                  ("string_lookup_one_hot", string_lookup_one_hot)]):
    model, vectorize = make()
    texts = SAMPLES if name.startswith("string_lookup") else TEXTS
    rng = np.random.default_rng(300 + i)
    for w in model.weights:
        v = np.asarray(w.numpy())
        if v.ndim == 1:
            w.assign(rng.normal(0, 0.2, v.shape).astype(np.float32))
    x = tf.constant(np.array(texts)[:, None])
    y = np.asarray(model.predict(x, verbose=0))
    vectorized = np.asarray(vectorize(x))
    model.save(f"{OUT}/{name}.keras")
    json.dump({"texts": texts, "vectorized": vectorized.astype(np.float64).tolist(),
               "output": y.astype(np.float64).tolist(), "output_shape": list(y.shape),
               "vocabulary": vectorize.get_vocabulary(),
               "tolerance": {"atol": 1e-5, "rtol": 1e-4}}, open(f"{OUT}/{name}.expected.json", "w"))
    print(name, model.count_params(), y.shape, flush=True)
