#!/usr/bin/env python3
"""The model rows of `swift run -c release bench`, in PyTorch (`pip install torch`), same columns.

    python3 torch_bench.py [--quick] [--threads 2]
"""
import argparse, time
import numpy as np
from keras_bench import load


def model(name):
    import torch.nn as nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 10))


def main():
    import torch
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = load(12800)
    print(f"PyTorch {torch.__version__}, {args.threads} threads")
    print(f"{'kernel':<24} {'backend':<18} {'ms':>9} {'rate':>10}  unit")
    for name, batch, lr in [("mlp", 32, 1e-3), ("cnn", 32, 1e-3), ("deep-mnist", 50, 1e-4)]:
        steps = (20 if name == "deep-mnist" else 50) if args.quick else (120 if name == "deep-mnist" else 300 if name == "cnn" else 400)
        images = torch.from_numpy(x if name == "mlp" else x[:, None])
        labels = torch.from_numpy(y.astype(np.int64))
        m = model(name)
        optimizer = torch.optim.Adam(m.parameters(), lr=lr, eps=1e-7)
        loss = torch.nn.CrossEntropyLoss()

        def run(count):
            m.train()
            for i in range(count):
                xb, yb = images[i * batch:(i + 1) * batch], labels[i * batch:(i + 1) * batch]
                optimizer.zero_grad()
                loss(m(xb), yb).backward()
                optimizer.step()
        run(4)  # warm-up
        seconds = float("inf")
        for _ in range(3):  # the fastest of 3, as bench's model rows
            start = time.perf_counter()
            run(steps)
            seconds = min(seconds, (time.perf_counter() - start) / steps)
        print(f"{'train ' + name + ' b' + str(batch):<24} {'torch':<18} {seconds * 1e3:9.3f} {batch / seconds:10.0f}  samples/s")
        m.eval()
        with torch.no_grad():
            for b in [1, 32, 1024]:
                count = (100 if args.quick else 1000) if b == 1 else (1024 if args.quick else 4096)
                start = time.perf_counter()
                for i in range(0, count, b):
                    m(images[i:i + b])
                seconds = time.perf_counter() - start
                print(f"{'predict ' + name + ' b' + str(b):<24} {'torch':<18} {seconds / count * b * 1e3:9.3f} {count / seconds:10.0f}  samples/s")


if __name__ == "__main__":
    main()
