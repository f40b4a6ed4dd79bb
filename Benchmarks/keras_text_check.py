#!/usr/bin/env python3
"""Checks Strata's text models against Keras on TensorFlow (TextVectorization needs it; not part of CI).

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu keras h5py numpy
    KERAS_BACKEND=tensorflow /tmp/tfvenv/bin/python Benchmarks/keras_text_check.py [STRATA_BINARY]

For each model gen_text.py wrote (Tests/StrataTests/Fixtures/keras: text_*.keras, an Input of dtype
string feeding TextVectorization in int, multi_hot and tf_idf modes; string_lookup_*.keras, one
feeding StringLookup in int and one_hot modes) and gen_lookup.py wrote (integer_lookup_*.keras: an
IntegerLookup inside the graph in every output mode, inverted, adapted or given its vocabulary):
1. `strata predict FILE --input texts.txt --output y.npy` (or the integers as `x.npy`) and Keras'
   `load_model(FILE).predict(...)`;
2. `strata convert FILE strata.keras`, then Keras loads Strata's file and predicts the same texts, and
   its TextVectorization gives the same ids and vocabulary as the original's;
3. `strata convert FILE strata.weights.h5`, read by Keras' `load_weights` into the model it loaded.
Every largest difference must be at most 1e-5. Prints one line per file; exits with 1 if any fails.
"""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "StrataTests", "Fixtures", "keras")
TEXTS = ["the cat sat on a mat", "Dogs, cats, APPLES; and a doctor!", "nothing known here", "",
         "far far away", "the the the cat"]


COLORS = ["red", "purple", "green", "", "cyan", "blue", "red"]


INTEGER_LOOKUPS = ["integer_lookup_int", "integer_lookup_multi_hot", "integer_lookup_tf_idf",
                   "integer_lookup_one_hot", "integer_lookup_count", "integer_lookup_invert"]


def vectorizer(model):
    return next(layer for layer in model.layers
                if isinstance(layer, (keras.layers.TextVectorization, keras.layers.StringLookup,
                                      keras.layers.IntegerLookup)))


def main():
    if len(sys.argv) > 1:
        binary = sys.argv[1]
    else:
        subprocess.run(["swift", "build", "-c", "release", "--product", "strata"], cwd=ROOT, check=True)
        bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                                  check=True, capture_output=True, text=True).stdout.strip()
        binary = os.path.join(bin_path, "strata")
    work = tempfile.mkdtemp(prefix="strata-text-check-")
    failed = False
    for name in ["text_int", "text_multi_hot", "text_tf_idf", "string_lookup_int", "string_lookup_one_hot"] + \
            INTEGER_LOOKUPS:
        if name in INTEGER_LOOKUPS:
            with open(os.path.join(FIXTURES, f"{name}.expected.json")) as f:
                values = np.array(json.load(f)["input"], dtype=np.int64)
            input_file = os.path.join(work, f"{name}-x.npy")
            np.save(input_file, values)
            x = tf.constant(values)
        else:
            texts = COLORS if name.startswith("string_lookup") else TEXTS
            input_file = os.path.join(work, f"{name}-texts.txt")
            with open(input_file, "w", encoding="utf-8") as f:
                f.write("\n".join(texts) + "\n")
            x = tf.constant(np.array(texts)[:, None])
        path = os.path.join(FIXTURES, f"{name}.keras")
        ours_path = os.path.join(work, f"{name}-y.npy")
        subprocess.run([binary, "predict", path, "--input", input_file, "--output", ours_path], check=True,
                       capture_output=True)
        ours = np.load(ours_path)
        model = keras.saving.load_model(path)
        theirs = np.asarray(model.predict(x, verbose=0))
        converted = os.path.join(work, f"{name}-strata.keras")
        subprocess.run([binary, "convert", path, converted], check=True, capture_output=True)
        reloaded = keras.saving.load_model(converted)
        again = np.asarray(reloaded.predict(x, verbose=0))
        ids_equal = np.array_equal(np.asarray(vectorizer(model)(x)), np.asarray(vectorizer(reloaded)(x)))
        vocabulary_equal = vectorizer(model).get_vocabulary() == vectorizer(reloaded).get_vocabulary()
        weights = os.path.join(work, f"{name}-strata.weights.h5")
        subprocess.run([binary, "convert", path, weights], check=True, capture_output=True)
        model.load_weights(weights)
        after_weights = np.asarray(model.predict(x, verbose=0))
        differences = [float(np.abs(ours - theirs).max()), float(np.abs(again - theirs).max()),
                       float(np.abs(after_weights - theirs).max())]
        ok = max(differences) <= 1e-5 and ids_equal and vocabulary_equal
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:<25} outputs {ours.shape}: max |Strata - Keras| = {differences[0]:.2e}; "
              f"Keras on Strata's file {differences[1]:.2e} (ids {'equal' if ids_equal else 'DIFFER'}, vocabulary "
              f"{'equal' if vocabulary_equal else 'DIFFERS'}); after load_weights {differences[2]:.2e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
