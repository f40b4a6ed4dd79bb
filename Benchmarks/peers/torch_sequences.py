#!/usr/bin/env python3
"""The sequence seed models of `strata --model …` in PyTorch (`pip install torch`), to time beside
Strata's and Keras' (sequence_seeds.py holds the data and the Keras models; this file the same
architectures as torch modules).

    python3 torch_sequences.py --bench [--threads 2]      # bench's rows, same columns as sequence_seeds.py
    python3 torch_sequences.py word-language [--epochs 8]  # test accuracy, as sequence_seeds.py runs it

word-language: Embedding(64, 32) -> LSTM(64) over each word's own length (pack_padded_sequence:
Keras' mask_zero) -> Linear(5); word-transformer: Embedding -> Conv1d(32, 3, same) + ReLU ->
MultiheadAttention(32, 2 heads of 16) added, LayerNorm(eps 1e-6) -> Linear(64) ReLU Linear(32) added,
LayerNorm -> mean over steps -> Linear(5); sequential-mnist: LSTM(28 -> 128) over the 28 rows ->
Linear(10). Adam (learning rate 1e-3, epsilon 1e-7 as Keras'), cross-entropy on logits, batch 32.
"""
import argparse
import time

import numpy as np
from sequence_seeds import fashion, vectorize, words


def make_model(name):
    import torch
    import torch.nn as nn

    class WordLanguage(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(64, 32)
            self.lstm = nn.LSTM(32, 64, batch_first=True)
            self.head = nn.Linear(64, 5)

        def forward(self, x):
            lengths = (x != 0).sum(1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(self.embedding(x), lengths, batch_first=True,
                                                       enforce_sorted=False)
            _, (h, _) = self.lstm(packed)
            return self.head(h[-1])

    class WordTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(64, 32)
            self.conv = nn.Conv1d(32, 32, 3, padding=1)
            self.attention = nn.MultiheadAttention(32, 2, batch_first=True)
            self.norm1 = nn.LayerNorm(32, eps=1e-6)
            self.dense1, self.dense2 = nn.Linear(32, 64), nn.Linear(64, 32)
            self.norm2 = nn.LayerNorm(32, eps=1e-6)
            self.head = nn.Linear(32, 5)

        def forward(self, x):
            local = torch.relu(self.conv(self.embedding(x).transpose(1, 2))).transpose(1, 2)
            x = self.norm1(local + self.attention(local, local, local, need_weights=False)[0])
            y = self.norm2(x + self.dense2(torch.relu(self.dense1(x))))
            return self.head(y.mean(1))

    class SequentialMNIST(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.head(h[-1])

    return {"word-language": WordLanguage, "word-transformer": WordTransformer,
            "sequential-mnist": SequentialMNIST}[name]()


def data(name, order_seed=None):
    if name == "sequential-mnist":
        x, y = fashion("train")
        test_x, test_y = fashion("t10k")
        return (x, y), (test_x, test_y)
    (train_words, train_labels), (test_words, test_labels) = words()
    if order_seed is None:  # bench's fixed order
        order = [(i * 7) % len(train_words) for i in range(len(train_words))]
    else:
        order = np.random.default_rng(order_seed).permutation(len(train_words))
    x = vectorize(train_words, [train_words[i] for i in order]).astype("int64")
    y = np.array(train_labels, "int64")[order]
    return (x, y), (vectorize(train_words, test_words).astype("int64"), np.array(test_labels, "int64"))


def train(model, x, y, steps, optimizer):
    import torch
    import torch.nn.functional as F
    model.train()
    for step in range(steps):
        xb = torch.from_numpy(x[step * 32:(step + 1) * 32])
        yb = torch.from_numpy(y[step * 32:(step + 1) * 32].astype("int64"))
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()


def bench():
    import torch
    for name, steps in [("word-language", 300), ("word-transformer", 300), ("sequential-mnist", 100)]:
        (x, y), _ = data(name)
        torch.manual_seed(0)
        model = make_model(name)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        train(model, x, y, 4, optimizer)  # warm-up
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            train(model, x, y, steps, optimizer)
            best = min(best, (time.perf_counter() - start) / steps)
        print(f"{'train ' + name + ' b32':<28} {'torch':<18} {best * 1e3:9.3f} ms/step {32 / best:10.0f} samples/s",
              flush=True)


def accuracy(name, epochs, seed):
    import torch
    torch.manual_seed(seed)
    (x, y), (test_x, test_y) = data(name, order_seed=seed)
    kept = len(x) - len(x) // 10  # validation_split=0.1, as the Keras runs hold out the last tenth
    x, y = x[:kept], y[:kept]
    model = make_model(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        train(model, x[order], y[order], (len(x) + 31) // 32, optimizer)
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(test_x)).argmax(1).numpy()
    return float((predicted == test_y).mean())


def main():
    import torch
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", choices=["word-language", "word-transformer", "sequential-mnist"])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bench", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__}, {args.threads} threads", flush=True)
    if args.bench:
        return bench()
    if args.model is None:
        parser.error("a model, or --bench")
    epochs = args.epochs or (2 if args.model == "sequential-mnist" else 8)
    results = [accuracy(args.model, epochs, seed) for seed in range(args.runs)]
    print(f"{args.model} torch: test accuracy mean {np.mean(results):.4f}, min {np.min(results):.4f}, "
          f"max {np.max(results):.4f} over {args.runs} runs of {epochs} epochs")


if __name__ == "__main__":
    main()
