#!/usr/bin/env python3
"""Inference of Keras application models in Keras 3 or PyTorch, beside `bench "infer"`.

    KERAS_BACKEND=jax python3 applications_bench.py --write DIR   # the .keras files bench reads
    KERAS_BACKEND=tensorflow python3 applications_bench.py        # Keras' own timing
    python3 applications_bench.py --torch                          # torchvision's same architectures

`--write DIR` saves each family (weights=None, 224x224, 299x299 for InceptionV3) as DIR/<Family>.keras
and a fixed input batch, which `swift run -c release bench infer --applications DIR` runs. Every row
runs in its own process (so its peak memory is its own): a warm-up batch, then the fastest of 3
timed passes over `--images` images (batch 1) or 2 batches (batch 32); ms per image and peak RSS.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

FAMILIES = {
    "ResNet50": 224, "DenseNet121": 224, "InceptionV3": 299, "VGG16": 224,
    "MobileNetV2": 224, "EfficientNetB0": 224,
}
TORCH_NAMES = {
    "ResNet50": "resnet50", "DenseNet121": "densenet121", "InceptionV3": "inception_v3",
    "VGG16": "vgg16", "MobileNetV2": "mobilenet_v2", "EfficientNetB0": "efficientnet_b0",
}


def keras_model(family):
    import keras
    size = FAMILIES[family]
    return getattr(keras.applications, family)(weights=None, input_shape=(size, size, 3))


def images(family, count, channels_first=False):
    import numpy as np
    size = FAMILIES[family]
    x = np.random.default_rng(0).random((count, size, size, 3), dtype=np.float32) * 255
    return x.transpose(0, 3, 1, 2).copy() if channels_first else x


def time_row(run, batches):
    run(batches[0])  # warm-up: tracing, compilation, first allocations
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for batch in batches:
            run(batch)
        best = min(best, time.perf_counter() - start)
    return best


def worker(family, batch, count, use_torch):
    n = batch * (2 if batch > 1 else count)
    if use_torch:
        import torch
        import torchvision
        torch.set_num_threads(2)
        name = TORCH_NAMES[family]
        extra = {"aux_logits": False, "init_weights": False} if name == "inception_v3" else {}
        model = getattr(torchvision.models, name)(weights=None, **extra).eval()
        x = torch.from_numpy(images(family, n, channels_first=True))
        batches = [x[i:i + batch] for i in range(0, n, batch)]

        def run(b):
            with torch.inference_mode():
                model(b)
        label = f"PyTorch {torch.__version__}"
    else:
        import keras
        model = keras_model(family)
        x = images(family, n)
        batches = [x[i:i + batch] for i in range(0, n, batch)]

        def run(b):
            model.predict(b, batch_size=batch, verbose=0)
        label = f"Keras {keras.__version__}/{keras.backend.backend()}"
    seconds = time_row(run, batches)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"row": f"infer {family} b{batch}", "peer": label,
                      "ms_per_image": seconds * 1e3 / n, "peak_mb": peak_mb}))


def write(directory):
    import numpy as np
    os.makedirs(directory, exist_ok=True)
    for family in FAMILIES:
        path = os.path.join(directory, family + ".keras")
        keras_model(family).save(path)
        np.save(os.path.join(directory, family + ".npy"), images(family, 2))
        print("wrote", path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--write", metavar="DIR")
    parser.add_argument("--torch", action="store_true")
    parser.add_argument("--images", type=int, default=10, help="images timed at batch 1")
    parser.add_argument("--worker", nargs=2, metavar=("FAMILY", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        return write(args.write)
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]), args.images, args.torch)
    print(f"{'row':<26} {'peer':<24} {'ms/image':>9} {'peak MB':>8}")
    for family in args.families:
        for batch in (1, 32):
            command = [sys.executable, __file__, "--worker", family, str(batch), "--images", str(args.images)]
            result = subprocess.run(command + (["--torch"] if args.torch else []), capture_output=True, text=True)
            lines = [l for l in result.stdout.splitlines() if l.startswith("{")]
            if result.returncode != 0 or not lines:
                print(f"infer {family} b{batch}: failed\n{result.stderr[-800:]}")
                continue
            r = json.loads(lines[-1])
            print(f"{r['row']:<26} {r['peer']:<24} {r['ms_per_image']:>9.1f} {r['peak_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
