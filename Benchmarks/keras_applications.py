#!/usr/bin/env python3
"""Which `keras.applications` families Strata loads and predicts like Keras (not part of CI).

    python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax /tmp/kvenv/bin/python Benchmarks/keras_applications.py [FAMILY ...]

For each family: Keras builds it with `weights=None, classes=10` at a small input size, gives every
BatchNormalization random moving statistics (so that a loading bug shows), saves it as `.keras` and
predicts random images; `strata predict FILE --input x.npy --output y.npy` (the release build) predicts
the same images. Prints one row per family (parameters, max |difference|, argmax agreement, or
Strata's refusal) and exits with 1 unless every family tried passes (max |difference| <= 1e-4).
"""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = 1e-4

# name: (constructor, input size, extra arguments); small sizes keep the run short.
FAMILIES = {
    "VGG16": (keras.applications.VGG16, 32, {}),
    "ResNet50": (keras.applications.ResNet50, 32, {}),
    "ResNet50V2": (keras.applications.ResNet50V2, 32, {}),
    "DenseNet121": (keras.applications.DenseNet121, 32, {}),
    "InceptionV3": (keras.applications.InceptionV3, 75, {}),
    "MobileNet": (keras.applications.MobileNet, 64, {"alpha": 0.5}),
    "MobileNetV2": (keras.applications.MobileNetV2, 64, {"alpha": 0.5}),
    "MobileNetV3Small": (keras.applications.MobileNetV3Small, 64, {}),
    "Xception": (keras.applications.Xception, 71, {}),
    "InceptionResNetV2": (keras.applications.InceptionResNetV2, 75, {}),
    "MobileNetV3Large": (keras.applications.MobileNetV3Large, 64, {}),
    "EfficientNetV2B0": (keras.applications.EfficientNetV2B0, 32, {}),
    "EfficientNetB0": (keras.applications.EfficientNetB0, 32, {}),
    "ConvNeXtTiny": (keras.applications.ConvNeXtTiny, 32, {}),
    "NASNetMobile": (keras.applications.NASNetMobile, 32, {}),
}


def randomize_batch_norm(model, rng):
    ranges = {"gamma": (0.5, 1.5), "beta": (-0.2, 0.2), "moving_mean": (-0.2, 0.2),
              "moving_variance": (0.5, 1.5)}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            randomize_batch_norm(layer, rng)
        elif isinstance(layer, keras.layers.BatchNormalization):
            for weight in layer.weights:  # `scale=False` or `center=False` leave some out
                low, high = ranges[weight.name]
                weight.assign(rng.uniform(low, high, weight.shape).astype("float32"))


def strata_binary():
    subprocess.run(["swift", "build", "-c", "release", "--product", "strata"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(path, "strata")


def main():
    names = sys.argv[1:] or list(FAMILIES)
    strata = strata_binary()
    rng = np.random.default_rng(0)
    failed = 0
    print(f"{'family':18} {'parameters':>11} {'max |diff|':>11}  argmax  result")
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            constructor, size, extra = FAMILIES[name]
            model = constructor(weights=None, classes=10, input_shape=(size, size, 3), **extra)
            randomize_batch_norm(model, rng)
            path = os.path.join(directory, f"{name}.keras")
            model.save(path)
            x = rng.uniform(0, 255, (4, size, size, 3)).astype("float32")
            expected = model.predict(x, verbose=0)
            x_path, y_path = os.path.join(directory, "x.npy"), os.path.join(directory, "y.npy")
            np.save(x_path, x)
            run = subprocess.run([strata, "predict", path, "--input", x_path, "--output", y_path],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                failed += 1
                reason = (run.stderr.strip().splitlines() or ["exit %d" % run.returncode])[-1]
                print(f"{name:18} {model.count_params():>11,} {'-':>11}  {'-':>6}  refused: {reason}")
                continue
            got = np.load(y_path)
            difference = float(np.max(np.abs(got - expected)))
            agree = int(np.sum(got.argmax(-1) == expected.argmax(-1)))
            ok = difference <= TOLERANCE and agree == len(x)
            failed += 0 if ok else 1
            print(f"{name:18} {model.count_params():>11,} {difference:>11.2e}  {agree}/{len(x):<4}  "
                  f"{'pass' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
