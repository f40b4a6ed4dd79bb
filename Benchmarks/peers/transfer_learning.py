#!/usr/bin/env python3
"""Transfer learning, per-step time in Keras and in Strata on the same machine (not part of CI).

    python3 -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu
    KERAS_BACKEND=tensorflow /tmp/tf/bin/python Benchmarks/peers/transfer_learning.py [--images N]

The TensorFlow tutorial's recipe on both sides: a MobileNetV2 base (alpha 0.35, 96x96, include_top=False,
weights=None, written by Keras as a .keras file), frozen, with GlobalAveragePooling2D, Dropout(0.2) and
Dense(1, sigmoid) on top, trained with Adam(1e-4) on an image folder (Fashion-MNIST shirts and trousers
written as PNGs, 20% held out), then the base's layers from 100 on unfrozen and fine-tuned with 1e-5.
Keras runs `image_dataset_from_directory` + `fit`; Strata runs the release binary's
`strata train --base BASE --images DIR --fine-tune-at 100`. Both report ms per training step of the
epochs after the first (which builds, traces and compiles), and the final validation accuracy.
"""
import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from keras_check import write_png  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = "/usr/share/datasets/fashion-mnist"
SIZE, BATCH, FINE_TUNE_AT = 96, 32, 100


def image_folder(directory, per_class):
    with gzip.open(os.path.join(DATA, "train-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(DATA, "train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    for label, name in [(1, "trouser"), (6, "shirt")]:
        os.makedirs(os.path.join(directory, name))
        for i, image in enumerate(images[labels == label][:per_class]):
            write_png(os.path.join(directory, name, f"{i:04d}.png"), np.repeat(image[:, :, None], 3, axis=2))


class StepTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.steps, self.last = [], time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.steps.append(now - self.last)
        self.last = now

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(self.steps)


def keras_run(base_path, images, epochs):
    def subset(name):
        return keras.utils.image_dataset_from_directory(
            images, validation_split=0.2, subset=name, seed=1, image_size=(SIZE, SIZE),
            batch_size=BATCH, label_mode="binary", verbose=False)
    train, validation = subset("training"), subset("validation")
    base = keras.saving.load_model(base_path)
    base.trainable = False
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    results = []
    for stage, rate in [("classifier", 1e-4), ("fine-tune", 1e-5)]:
        if stage == "fine-tune":
            base.trainable = True
            for layer in base.layers[:FINE_TUNE_AT]:
                layer.trainable = False
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="binary_crossentropy",
                      metrics=["accuracy"])
        timer = StepTimes()
        history = model.fit(train, epochs=epochs, validation_data=validation, callbacks=[timer], verbose=0)
        steps = [t for epoch in timer.epochs[1:] for t in epoch]
        results.append((stage, 1e3 * float(np.median(steps)), history.history["val_accuracy"][-1]))
    return results


def strata_run(base_path, images, epochs):
    subprocess.run(["swift", "build", "-c", "release", "--product", "strata"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    binary = os.path.join(subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                                         check=True, capture_output=True, text=True).stdout.strip(), "strata")
    run = subprocess.run([binary, "train", "--base", base_path, "--images", images, "--epochs", str(epochs),
                          "--fine-tune-at", str(FINE_TUNE_AT), "--batch-size", str(BATCH), "--verbose", "2"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"strata train failed:\n{run.stdout}\n{run.stderr}")
    lines = [line for line in run.stdout.splitlines() if "/step" in line]
    def milliseconds(line):
        value, unit = re.search(r"([\d.]+)(ms|s|us)/step", line).groups()
        return float(value) * {"s": 1e3, "ms": 1.0, "us": 1e-3}[unit]
    accuracies = [float(m) for m in re.findall(r"val_accuracy: ([\d.]+)", run.stdout)]
    results = []
    for index, stage in enumerate(["classifier", "fine-tune"]):
        stage_lines = lines[index * epochs:(index + 1) * epochs]
        steps = [milliseconds(line) for line in stage_lines[1:]]
        results.append((stage, float(np.median(steps)), accuracies[(index + 1) * epochs - 1]))
    return results, run.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=320, help="images per class")
    parser.add_argument("--epochs", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        images = os.path.join(directory, "images")
        image_folder(images, arguments.images)
        base_path = os.path.join(directory, "base.keras")
        keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights=None,
                                       input_shape=(SIZE, SIZE, 3)).save(base_path)
        theirs = keras_run(base_path, images, arguments.epochs)
        ours, log = strata_run(base_path, images, arguments.epochs)
    print(log)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"{cpu}, {os.cpu_count()} cores; {2 * arguments.images} images, batch {BATCH}, median of epochs 2-{arguments.epochs}")
    print(f"{'stage':12} {'Keras/' + keras.backend.backend():>18} {'Strata':>12}")
    for (stage, keras_ms, keras_accuracy), (_, strata_ms, strata_accuracy) in zip(theirs, ours):
        print(f"{stage:12} {keras_ms:10.1f} ms/step {strata_ms:7.1f} ms/step   "
              f"val_accuracy {keras_accuracy:.3f} / {strata_accuracy:.3f}")


if __name__ == "__main__":
    main()
