"""Keras' values for the text preprocessing layers: text_preprocessing.json.

Run with Keras 3 and TensorFlow (Keras' TextVectorization and lookups run on tf.strings on every
backend): `python3 generate_text_preprocessing.py`. Each case holds the layer's constructor
`arguments`, the `adapt` data (or none), its `config` after adapting (vocabulary included), the
vocabulary, an `input` and Keras' `output`.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402

CORPUS = [
    "The cat sat on the mat.",
    "the CAT, the hat! And THE bat?",
    "Élan vital — été, naïve café",
    "a  b\tc\nd  e",
    "don't stop: it's 3.14 (pi) & e-mail@x.org",
    "",
    "the the the cat cat mat",
    "Ünïcödé ÀÉÎ ß straße",
]
INPUT = ["the cat and the unknown hat", "Café été!", "", "b c d e f g h i j k l", "naïve mat"]

TEXT_CASES = [
    ("defaults", dict()),
    ("max_tokens 8, length 6", dict(max_tokens=8, output_sequence_length=6)),
    ("bigrams, length 8", dict(ngrams=2, output_sequence_length=8)),
    ("trigrams only", dict(ngrams=(3,), output_sequence_length=4)),
    ("multi_hot", dict(output_mode="multi_hot")),
    ("count, padded to 12", dict(output_mode="count", max_tokens=12, pad_to_max_tokens=True)),
    ("tf_idf, max_tokens 7", dict(output_mode="tf_idf", max_tokens=7)),
    ("characters, lower", dict(split="character", standardize="lower", output_sequence_length=10)),
    ("no standardize", dict(standardize=None)),
    ("strip punctuation only", dict(standardize="strip_punctuation", output_mode="multi_hot")),
    ("no split", dict(split=None, standardize="lower")),
]


def listed(a):
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


cases = []
for description, arguments in TEXT_CASES:
    layer = keras.layers.TextVectorization(**arguments)
    layer.adapt(CORPUS)
    config = layer.get_config()
    config.pop("dtype", None)
    cases.append({
        "kind": "TextVectorization", "desc": description,
        "arguments": {k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()},
        "adapt": CORPUS, "config": config, "vocabulary": [str(v) for v in layer.get_vocabulary()],
        "input": INPUT, "output": listed(layer(INPUT)),
    })

given = keras.layers.TextVectorization(vocabulary=["cat", "the", "hat"], output_sequence_length=5)
cases.append({
    "kind": "TextVectorization", "desc": "vocabulary given",
    "arguments": {"vocabulary": ["cat", "the", "hat"], "output_sequence_length": 5}, "adapt": None,
    "config": None, "vocabulary": [str(v) for v in given.get_vocabulary()], "input": INPUT,
    "output": listed(given(INPUT)),
})

TOKENS = [["red", "green", "red"], ["blue", "red", "green"], ["green", "violet", "red"]]
STRING_INPUT = [["red", "blue", "black"], ["green", "green", "violet"]]
for description, arguments in [
    ("int", dict()), ("mask token", dict(mask_token="")), ("multi_hot", dict(output_mode="multi_hot")),
    ("count, max_tokens 3", dict(output_mode="count", max_tokens=3)),
    ("tf_idf", dict(output_mode="tf_idf")),
]:
    layer = keras.layers.StringLookup(**arguments)
    layer.adapt(np.array(TOKENS))
    cases.append({
        "kind": "StringLookup", "desc": description, "arguments": arguments, "adapt": TOKENS,
        "vocabulary": [str(v) for v in layer.get_vocabulary()], "input": STRING_INPUT,
        "output": listed(layer(np.array(STRING_INPUT))),
    })
layer = keras.layers.StringLookup(vocabulary=["a", "b", "c"], invert=True)
cases.append({
    "kind": "StringLookup", "desc": "invert", "arguments": {"vocabulary": ["a", "b", "c"]},
    "adapt": None, "vocabulary": [str(v) for v in layer.get_vocabulary()],
    "input_indices": [[1, 0, 3]], "inverted": [[v.decode() for v in np.asarray(layer([[1, 0, 3]]))[0]]],
})

INTEGERS = [[7, 3, 7, 12], [3, 3, 9, 7], [12, 40, 7, 3]]
INTEGER_INPUT = [[7, 5, 3, 40], [9, 9, 12, 0]]
for description, arguments in [
    ("int", dict()), ("mask 0", dict(mask_token=0)), ("multi_hot", dict(output_mode="multi_hot")),
    ("count, max_tokens 4", dict(output_mode="count", max_tokens=4)),
]:
    layer = keras.layers.IntegerLookup(**arguments)
    layer.adapt(np.array(INTEGERS))
    cases.append({
        "kind": "IntegerLookup", "desc": description, "arguments": arguments,
        "adapt": listed(INTEGERS), "vocabulary": [int(v) for v in layer.get_vocabulary()],
        "input": listed(INTEGER_INPUT), "output": listed(layer(np.array(INTEGER_INPUT))),
    })

SEQUENCES = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], []]
for description, arguments in [
    ("defaults", dict()), ("maxlen 4", dict(maxlen=4)),
    ("post, maxlen 3, value -1", dict(maxlen=3, padding="post", value=-1.0)),
    ("truncating post, maxlen 2", dict(maxlen=2, truncating="post")),
]:
    cases.append({
        "kind": "pad_sequences", "desc": description, "arguments": arguments,
        "input": SEQUENCES,
        "output": listed(keras.utils.pad_sequences(SEQUENCES, dtype="float32", **arguments)),
    })

SERIES = np.arange(60, dtype=np.float32).reshape(20, 3)
TARGETS = np.arange(100, 120, dtype=np.float32)
for description, arguments in [
    ("length 4", dict(sequence_length=4)),
    ("stride 3, rate 2", dict(sequence_length=3, sequence_stride=3, sampling_rate=2)),
    ("start 2, end 15", dict(sequence_length=5, start_index=2, end_index=15)),
]:
    xs, ys = [], []
    for x, y in keras.utils.timeseries_dataset_from_array(SERIES, TARGETS, batch_size=4, **arguments):
        xs.append(np.asarray(x))
        ys.append(np.asarray(y))
    cases.append({
        "kind": "timeseries", "desc": description, "arguments": arguments,
        "data": listed(SERIES), "targets": listed(TARGETS),
        "x": listed(np.concatenate(xs)), "y": listed(np.concatenate(ys)),
    })

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "text_preprocessing.json")
with open(out, "w") as f:
    json.dump({"generator": f"keras {keras.__version__}, {keras.backend.backend()} backend",
               "cases": cases}, f, ensure_ascii=False)
print(f"wrote {len(cases)} cases to {out}")
