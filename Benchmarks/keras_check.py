#!/usr/bin/env python3
"""Checks Strata's Keras files against Keras itself (not part of CI; run it where Keras is installed).

    python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax /tmp/kvenv/bin/python Benchmarks/keras_check.py

What it does, with the `strata` command-line tool (built here in release mode):
1. Strata trains each tutorial model briefly (Fashion-MNIST; generated images for horses-or-humans) and
   saves it as `.keras`; Strata converts Keras' functional two-input test file and a model using the
   CustomLayers plugin's PReLU and LeakyReLU (from Examples/CustomLayers) to `.keras` as well.
2. For each file, `strata predict FILE --input x.npy --output y.npy` and Keras' `load_model(FILE).predict(x)`
   run on the same random inputs (the plugin model through Examples/CustomLayers' custom-layers-demo, which
   registers the plugin); the largest difference must be at most 1e-5.
3. `strata convert FILE FILE.weights.h5` writes the weights alone, which Keras' `load_weights` reads into
   the model it loaded; the predictions must not change.
4. The other way: Keras' own test files (../shared/keras-files, and the sequence models of
   ../shared/keras-seq Strata runs) are predicted by Strata and Keras; Strata converts the sequence
   models to files of its own writing, which are checked the same way.
Prints one line per file and exits with 1 if any check fails.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "keras-files")
SEQUENCES = os.path.join(os.path.dirname(ROOT), "shared", "keras-seq")
TOLERANCE = 1e-5


@keras.saving.register_keras_serializable(package="CustomLayers")
class PReLU(keras.layers.PReLU):
    """Strata's CustomLayers plugin registers PReLU as `CustomLayers>PReLU`: Keras' layer under that name."""


@keras.saving.register_keras_serializable(package="CustomLayers")
class LeakyReLU(keras.layers.LeakyReLU):
    """Likewise `CustomLayers>LeakyReLU`."""


def run(*args, cwd=ROOT):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def write_png(path, pixels):
    """A minimal RGB PNG writer (no Pillow needed)."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def input_shapes(path):
    """The input shapes (batch axis dropped) and dtypes a .keras file's config declares, in model
    input order."""
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    layers = config["config"]["layers"]

    def described(layer):
        return layer["config"]["batch_shape"][1:], layer["config"].get("dtype", "float32")
    if config["class_name"] == "Sequential":
        return [described(layers[0])]
    names = config["config"]["input_layers"]
    names = [names] if isinstance(names[0], str) else names
    shapes = {layer["config"]["name"]: described(layer) for layer in layers
              if layer["class_name"] == "InputLayer"}
    return [shapes[name[0]] for name in names]


def decoder_model():
    """Conv2DTranspose, UpSampling2D, Permute, RepeatVector, Cropping2D and the noise layers, with
    random weights."""
    layers = keras.layers
    inputs = keras.Input((6,))
    x = layers.RepeatVector(4)(inputs)
    x = layers.Permute((2, 1))(x)
    x = layers.Reshape((3, 2, 4))(x)
    x = layers.Conv2DTranspose(5, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.SpatialDropout2D(0.1)(x)
    x = layers.GaussianNoise(0.05)(x)
    x = layers.UpSampling2D((2, 3), interpolation="bilinear")(x)
    x = layers.GaussianDropout(0.1)(x)
    x = layers.Conv2DTranspose(3, (3, 2), strides=(2, 3), output_padding=(1, 2))(x)
    x = layers.UpSampling2D(2)(x)
    x = layers.Cropping2D(((1, 0), (2, 1)))(x)
    x = layers.ActivityRegularization(l1=0.01)(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(3)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def check(strata, path, work, label):
    """`strata` is the command to run: [strata, "predict"] / [strata, "convert"], or the plugin demo's."""
    rng = np.random.default_rng(0)
    # Token ids (an int32 input) below 10: every Embedding here has a vocabulary at least that large.
    inputs = [rng.integers(0, 10, [3] + shape).astype(np.int32) if dtype in ("int32", "int64")
              else rng.random([3] + shape, dtype=np.float32) for shape, dtype in input_shapes(path)]
    args = strata["predict"] + [path]
    for i, x in enumerate(inputs):
        np.save(os.path.join(work, f"{label}_in{i}.npy"), x)
        args += ["--input", os.path.join(work, f"{label}_in{i}.npy")]
    model = keras.saving.load_model(path)
    outputs = model.outputs if hasattr(model, "outputs") and model.outputs else [None]
    for i in range(len(outputs)):
        args += ["--output", os.path.join(work, f"{label}_out{i}.npy")]
    run(*args)
    ours = [np.load(os.path.join(work, f"{label}_out{i}.npy")) for i in range(len(outputs))]
    theirs = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    theirs = theirs if isinstance(theirs, list) else [theirs]
    difference = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
    # The weights alone, through .weights.h5, into the model Keras loaded.
    weights = os.path.join(work, f"{label}.weights.h5")
    run(*strata["convert"], path, weights)
    model.load_weights(weights)
    again = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    again = again if isinstance(again, list) else [again]
    weights_difference = max(float(np.abs(a - b).max()) for a, b in zip(ours, again))
    compiled = ""
    if getattr(model, "optimizer", None) is not None:
        compiled = f", optimizer {type(model.optimizer).__name__} at iteration {int(model.optimizer.iterations)}"
    ok = difference <= TOLERANCE and weights_difference <= TOLERANCE
    print(f"{'ok  ' if ok else 'FAIL'} {label:<22} {model.count_params():>10,} params, outputs "
          f"{[tuple(o.shape) for o in ours]}: max |Strata - Keras| = {difference:.2e}, after load_weights "
          f"{weights_difference:.2e}{compiled}")
    return ok


def main():
    run("swift", "build", "-c", "release", "--product", "strata")
    binary = os.path.join(run("swift", "build", "-c", "release", "--show-bin-path").strip(), "strata")
    strata = {"predict": [binary, "predict"], "convert": [binary, "convert"]}
    work = tempfile.mkdtemp(prefix="strata-keras-check-")
    files = []
    for seed in ["mlp", "cnn", "deep-mnist", "resnet-small"]:
        path = os.path.join(work, f"{seed}.keras")
        run(binary, "train", "--model", seed, "--epochs", "1", "--limit", "256", "--no-validation",
            "--verbose", "0", "--save", path)
        files.append((path, f"strata {seed}", strata))
    images = os.path.join(work, "horses-or-humans")
    rng = np.random.default_rng(1)
    for kind in ["horses", "humans"]:
        os.makedirs(os.path.join(images, kind))
        for i in range(4):
            write_png(os.path.join(images, kind, f"{i}.png"), rng.integers(0, 256, (300, 300, 3), dtype=np.uint8))
    path = os.path.join(work, "horses-or-humans.keras")
    run(binary, "train", "--model", "horses-or-humans", "--images", images, "--epochs", "1", "--verbose", "0",
        "--save", path)
    files.append((path, "strata horses-or-humans", strata))
    path = os.path.join(work, "two_inputs.keras")
    run(binary, "convert", os.path.join(SHARED, "tiny_two_inputs.keras"), path)
    files.append((path, "strata two_inputs", strata))
    plugin = os.path.join(ROOT, "Examples", "CustomLayers")
    path = os.path.join(work, "plugin.keras")
    run("swift", "build", "-c", "release", "--product", "custom-layers-demo", cwd=plugin)
    demo = os.path.join(run("swift", "build", "-c", "release", "--show-bin-path", cwd=plugin).strip(),
                        "custom-layers-demo")
    run(demo, "--save", path)
    files.append((path, "strata plugin layers", {"predict": [demo, "--predict"], "convert": [demo, "--convert"]}))
    # Keras writes a decoder of the 2-D layers Strata added for the application models; Strata
    # predicts it, and converts it to a file of its own writing, which Keras loads.
    path = os.path.join(work, "decoder.keras")
    decoder_model().save(path)
    files.append((path, "keras decoder layers", strata))
    converted = os.path.join(work, "decoder-strata.keras")
    run(binary, "convert", path, converted)
    files.append((converted, "strata decoder layers", strata))
    # Keras' sequence models Strata runs, as Keras wrote them and as Strata writes them.
    for name in ["conv1d_text", "conv1d_series", "gru_stack", "simple_rnn_series", "lstm_classifier",
                 "masked_lstm_series", "bilstm_tagger", "transformer_classifier",
                 "causal_attention"]:
        original = os.path.join(SEQUENCES, f"{name}.keras")
        files.append((original, f"keras {name}", strata))
        converted = os.path.join(work, f"{name}-strata.keras")
        run(binary, "convert", original, converted)
        files.append((converted, f"strata {name}", strata))
    # Strata's own state-passing fixtures (Tests/StrataTests/Fixtures/keras/gen_states.py): an
    # encoder-decoder, a GRU's state as a second output, Bidirectional's two directions and
    # attention scores as second outputs, both ways.
    fixtures = os.path.join(ROOT, "Tests", "StrataTests", "Fixtures", "keras")
    for name in ["lstm_seq2seq", "gru_states", "bidirectional_pair", "attention_scores"]:
        original = os.path.join(fixtures, f"{name}.keras")
        files.append((original, f"keras {name}", strata))
        converted = os.path.join(work, f"{name}-strata.keras")
        run(binary, "convert", original, converted)
        files.append((converted, f"strata {name}", strata))
    for name in sorted(os.listdir(SHARED)):
        if name.endswith(".keras"):
            files.append((os.path.join(SHARED, name), f"keras {name[:-6]}", strata))
    results = [check(tool, path, work, label.replace(" ", "_")) for path, label, tool in files]
    print(f"{sum(results)}/{len(results)} files agree within {TOLERANCE} (Keras {keras.__version__}, "
          f"backend {keras.backend.backend()})")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
