#!/usr/bin/env python3
"""The sequence seed models of `strata --model …`, in Keras 3, on the same data: their test accuracy
and training ms/step, to set beside Strata's.

    KERAS_BACKEND=tensorflow python3 sequence_seeds.py word-language     # or jax (needs tensorflow
    KERAS_BACKEND=jax python3 sequence_seeds.py sequential-mnist         # for TextVectorization)
    python3 sequence_seeds.py word-language --epochs 1 --runs 3

word-language: Debian's word lists (wamerican, wngerman, wfrench, wspanish, witalian) sampled by
the rules of Strata's WordLanguages (3-16 lowercase letters, words of one language only, every k-th
word in code-point order, every fifth word for testing); characters vectorized by
TextVectorization(split="character", max_tokens=64, output_sequence_length=16); Embedding(64, 32,
mask_zero=True) -> LSTM(64) -> Dense(5, softmax); Adam, batch 32, 8 epochs, validation_split 0.1.
sequential-mnist: Fashion-MNIST's rows as 28 steps: LSTM(128) -> Dense(10, softmax); Adam, batch 32,
2 epochs, validation_split 0.1. Each run starts from a new random initialization; the mean and the
spread of the test accuracy over the runs are printed.
"""
import argparse
import gzip
import os
import re
import time

import numpy as np

DICT = "/usr/share/dict"
LANGUAGES = ["american-english", "ngerman", "french", "spanish", "italian"]
FASHION = "/usr/share/datasets/fashion-mnist"
KEPT = re.compile(r"[a-z\u00df-\u00f6\u00f8-\u00ff\u0153]{3,16}")


def words(per_language=6000):
    lists = []
    for name in LANGUAGES:
        with open(os.path.join(DICT, name), encoding="utf-8") as f:
            lists.append(sorted({w for w in f.read().split("\n") if KEPT.fullmatch(w)}))
    counts = {}
    for lst in lists:
        for w in lst:
            counts[w] = counts.get(w, 0) + 1
    train, test = ([], []), ([], [])
    for label, lst in enumerate(lists):
        unique = [w for w in lst if counts[w] == 1]
        step = max(len(unique) // per_language, 1)
        sample = unique[::step][:per_language]
        for position, w in enumerate(sample):
            split = test if position % 5 == 4 else train
            split[0].append(w)
            split[1].append(label)
    return train, test


def fashion(kind):
    with gzip.open(os.path.join(FASHION, f"{kind}-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28).astype("float32") / 255
    with gzip.open(os.path.join(FASHION, f"{kind}-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype("int32")
    return x, y


class StepTimer:
    """Milliseconds per training step of each epoch (validation excluded)."""

    def __init__(self):
        import keras

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(inner, epoch, logs=None):
                inner.start, inner.steps = time.perf_counter(), 0

            def on_train_batch_end(inner, batch, logs=None):
                inner.steps += 1
                inner.end = time.perf_counter()

            def on_epoch_end(inner, epoch, logs=None):
                self.epochs.append((inner.end - inner.start) * 1000 / max(inner.steps, 1))

        self.epochs = []
        self.callback = Callback()


def run(name, epochs, seed):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    if name == "word-language":
        (train_words, train_labels), (test_words, test_labels) = words()
        vectorize = layers.TextVectorization(max_tokens=64, standardize=None, split="character",
                                             output_sequence_length=16)
        vectorize.adapt(train_words)
        order = np.random.default_rng(seed).permutation(len(train_words))
        x = np.asarray(vectorize(np.array(train_words)[order])).astype("int32")
        y = np.array(train_labels, "int32")[order]
        test_x = np.asarray(vectorize(np.array(test_words))).astype("int32")
        test_y = np.array(test_labels, "int32")
        model = keras.Sequential([keras.Input((16,), dtype="int32"),
                                  layers.Embedding(64, 32, mask_zero=True), layers.LSTM(64),
                                  layers.Dense(5, activation="softmax")])
    else:
        x, y = fashion("train")
        test_x, test_y = fashion("t10k")
        model = keras.Sequential([keras.Input((28, 28)), layers.LSTM(128),
                                  layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = StepTimer()
    model.fit(x, y, batch_size=32, epochs=epochs, validation_split=0.1, verbose=0,
              callbacks=[timer.callback])
    _, accuracy = model.evaluate(test_x, test_y, verbose=0)
    return accuracy, timer.epochs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=["word-language", "sequential-mnist"])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    import keras

    epochs = args.epochs or (8 if args.model == "word-language" else 2)
    accuracies = []
    for seed in range(args.runs):
        accuracy, steps = run(args.model, epochs, seed)
        accuracies.append(accuracy)
        # The first epoch holds the tracing and compilation: the later ones are the step time.
        timed = steps[1:] or steps
        print(f"{args.model} keras-{keras.backend.backend()} run {seed}: test accuracy {accuracy:.4f}, "
              f"{np.mean(timed):.3f} ms/step (epochs {', '.join(f'{s:.2f}' for s in steps)})", flush=True)
    print(f"{args.model} keras-{keras.backend.backend()} {keras.__version__}: test accuracy mean "
          f"{np.mean(accuracies):.4f}, min {np.min(accuracies):.4f}, max {np.max(accuracies):.4f} "
          f"over {args.runs} runs of {epochs} epochs")


if __name__ == "__main__":
    main()
