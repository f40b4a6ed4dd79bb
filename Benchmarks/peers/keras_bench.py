#!/usr/bin/env python3
"""The model rows of `swift run -c release bench`, in Keras 3 (any backend), for a side-by-side comparison.

    KERAS_BACKEND=jax python3 keras_bench.py          # or tensorflow, torch
    python3 keras_bench.py --quick

Same models, batch sizes, optimizers, data (Fashion-MNIST from /usr/share/datasets/fashion-mnist) and
columns as bench. The first fit call (tracing, compilation) is a warm-up and not timed.
"""
import argparse, gzip, os, time
import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def load(count):
    with gzip.open(os.path.join(DATA, "train-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:count].astype("float32") / 255
    with gzip.open(os.path.join(DATA, "train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:count].astype("int32")
    return images, labels


def model(name):
    import keras
    from keras import layers
    if name == "mlp":
        m = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(128, activation="relu"),
                              layers.Dropout(0.2), layers.Dense(10, activation="softmax")])
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    elif name == "cnn":
        m = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
                              layers.Dense(64, activation="relu"), layers.Dense(10)])
        m.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    else:
        m = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 5, padding="same", activation="relu"),
                              layers.MaxPooling2D(2, padding="same"), layers.Conv2D(64, 5, padding="same", activation="relu"),
                              layers.MaxPooling2D(2, padding="same"), layers.Flatten(), layers.Dense(1024, activation="relu"),
                              layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
        m.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import keras
    backend = keras.backend.backend()
    x, y = load(12800)
    print(f"Keras {keras.__version__} on {backend}")
    print(f"{'kernel':<24} {'backend':<18} {'ms':>9} {'rate':>10}  unit")
    for name, batch in [("mlp", 32), ("cnn", 32), ("deep-mnist", 50)]:
        steps = (20 if name == "deep-mnist" else 50) if args.quick else (120 if name == "deep-mnist" else 300 if name == "cnn" else 400)
        images = x if name == "mlp" else x[..., None]
        m = model(name)
        n = steps * batch
        m.fit(images[:batch * 4], y[:batch * 4], batch_size=batch, epochs=1, verbose=0, shuffle=False)  # warm-up
        best = float("inf")
        for _ in range(3):  # the fastest of 3, as bench's model rows
            start = time.perf_counter()
            m.fit(images[:n], y[:n], batch_size=batch, epochs=1, verbose=0, shuffle=False)
            best = min(best, (time.perf_counter() - start) / steps)
        print(f"{'train ' + name + ' b' + str(batch):<24} {'keras-' + backend:<18} {best * 1e3:9.3f} {batch / best:10.0f}  samples/s")
        for b in [1, 32, 1024]:
            count = (100 if args.quick else 1000) if b == 1 else (1024 if args.quick else 4096)
            sample = images[:count]
            m.predict(sample[:b * 2], batch_size=b, verbose=0)  # warm-up
            start = time.perf_counter()
            m.predict(sample, batch_size=b, verbose=0)
            seconds = time.perf_counter() - start
            print(f"{'predict ' + name + ' b' + str(b):<24} {'keras-' + backend:<18} {seconds / count * b * 1e3:9.3f} {count / seconds:10.0f}  samples/s")


if __name__ == "__main__":
    main()
