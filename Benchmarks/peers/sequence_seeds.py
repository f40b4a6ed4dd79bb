#!/usr/bin/env python3
"""The sequence seed models of `strata --model …`, in Keras 3, on the same data: their test accuracy
and training ms/step, to set beside Strata's.

    KERAS_BACKEND=tensorflow python3 sequence_seeds.py word-language     # or jax, torch
    python3 sequence_seeds.py sequential-mnist --epochs 1 --runs 3
    python3 sequence_seeds.py --bench                                    # bench's rows

--bench times what `bench`'s "train word-language b32", "train word-transformer b32" and "train
sequential-mnist b32" rows time: the same data order, batch 32, 300 steps (sequential-mnist 100),
the fastest of 3 fits after a warm-up fit.

word-language: Debian's word lists (wamerican, wngerman, wfrench, wspanish, witalian) sampled by
the rules of Strata's WordLanguages (3-16 lowercase letters, words of one language only, every k-th
word in code-point order, every fifth word for testing); characters vectorized by
TextVectorization(split="character", max_tokens=64, output_sequence_length=16); Embedding(64, 32,
mask_zero=True) -> LSTM(64) -> Dense(5, softmax); Adam, batch 32, 8 epochs, validation_split 0.1.
word-transformer: the same data; Embedding(64, 32) -> Conv1D(32, 3, same, relu) -> MultiHeadAttention(2,
16) added and LayerNormalization(1e-6) -> Dense(64, relu) -> Dense(32) added and normalized ->
GlobalAveragePooling1D -> Dense(5, softmax). The characters are vectorized here as TextVectorization
does (most frequent first, ties by the later character first; 0 padding, 1 unknown), without
TensorFlow.
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


def vectorize(train_words, words):
    counts = {}
    for w in train_words:
        for ch in w:
            counts[ch] = counts.get(ch, 0) + 1
    ordered = sorted(counts, key=lambda ch: (-counts[ch], [-b for b in ch.encode()]))[:62]
    index = {ch: i + 2 for i, ch in enumerate(ordered)}
    x = np.zeros((len(words), 16), "int32")
    for row, w in enumerate(words):
        for t, ch in enumerate(w[:16]):
            x[row, t] = index.get(ch, 1)
    return x


def make_model(name):
    import keras
    from keras import layers
    if name == "word-language":
        return keras.Sequential([keras.Input((16,), dtype="int32"),
                                 layers.Embedding(64, 32, mask_zero=True), layers.LSTM(64),
                                 layers.Dense(5, activation="softmax")])
    if name == "word-transformer":
        inputs = keras.Input((16,), dtype="int32")
        local = layers.Conv1D(32, 3, padding="same", activation="relu")(layers.Embedding(64, 32)(inputs))
        x = layers.LayerNormalization(epsilon=1e-6)(local + layers.MultiHeadAttention(2, 16)(local, local))
        y = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dense(32)(layers.Dense(64, activation="relu")(x)))
        outputs = layers.Dense(5, activation="softmax")(layers.GlobalAveragePooling1D()(y))
        return keras.Model(inputs, outputs)
    return keras.Sequential([keras.Input((28, 28)), layers.LSTM(128), layers.Dense(10, activation="softmax")])


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
    if name.startswith("word-"):
        (train_words, train_labels), (test_words, test_labels) = words()
        order = np.random.default_rng(seed).permutation(len(train_words))
        x = vectorize(train_words, [train_words[i] for i in order])
        y = np.array(train_labels, "int32")[order]
        test_x = vectorize(train_words, test_words)
        test_y = np.array(test_labels, "int32")
    else:
        x, y = fashion("train")
        test_x, test_y = fashion("t10k")
    model = make_model(name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = StepTimer()
    model.fit(x, y, batch_size=32, epochs=epochs, validation_split=0.1, verbose=0,
              callbacks=[timer.callback])
    _, accuracy = model.evaluate(test_x, test_y, verbose=0)
    return accuracy, timer.epochs


def bench():
    import keras
    backend = keras.backend.backend()
    (train_words, train_labels), _ = words()
    order = [(i * 7) % len(train_words) for i in range(len(train_words))]
    word_x = vectorize(train_words, [train_words[i] for i in order])
    word_y = np.array(train_labels, "int32")[order]
    images, labels = fashion("train")
    for name, steps in [("word-language", 300), ("word-transformer", 300), ("sequential-mnist", 100)]:
        x, y = (images, labels) if name == "sequential-mnist" else (word_x, word_y)
        n = steps * 32
        model = make_model(name)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x[:128], y[:128], batch_size=32, epochs=1, verbose=0, shuffle=False)  # warm-up
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            model.fit(x[:n], y[:n], batch_size=32, epochs=1, verbose=0, shuffle=False)
            best = min(best, (time.perf_counter() - start) / steps)
        print(f"{'train ' + name + ' b32':<28} {'keras-' + backend:<18} {best * 1e3:9.3f} ms/step "
              f"{32 / best:10.0f} samples/s", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", choices=["word-language", "word-transformer", "sequential-mnist"])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--bench", action="store_true")
    args = parser.parse_args()
    import keras
    if args.bench:
        return bench()
    if args.model is None:
        parser.error("a model, or --bench")
    epochs = args.epochs or (2 if args.model == "sequential-mnist" else 8)
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
