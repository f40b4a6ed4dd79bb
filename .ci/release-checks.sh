#!/usr/bin/env bash
# The release binary on the paths users take, each checked by its output, not only its exit code:
# training and saving, `mpirun -np 2` against one process, predict on .npy arrays, convert, summary,
# evaluate, an image-folder run, and sequences (a Keras GRU file, an LSTM on .npy arrays). An
# optimized-only crash fails here.
#
#   .ci/release-checks.sh [path to the release strata binary]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(swift build -c release --show-bin-path)/strata}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
passed=0
check() { # check NAME CONDITION-COMMAND...
  local name="$1"
  shift
  if "$@"; then
    echo "release check passed: $name"
    passed=$((passed + 1))
  else
    echo "release check FAILED: $name" >&2
    failures=$((failures + 1))
  fi
}
contains() { grep -q -- "$2" "$1" || { echo "--- $1 lacks '$2':" >&2; tail -20 "$1" >&2; return 1; }; }
# The value after "Test accuracy: " in a log.
accuracy() { sed -n 's/.*Test accuracy: \([0-9.]*\).*/\1/p' "$1" | tail -1; }

# 1. One process: train, evaluate, save as .keras.
train=(train --limit 3000 --epochs 1 --no-validation --verbose 2 --seed 12)
"$bin" "${train[@]}" --save "$work/one.keras" >"$work/one.log" 2>&1 || true
check "train and save (one process)" contains "$work/one.log" "Test accuracy: 0\.[6-9]"

# 2. Two processes through Open MPI: the same run, the same accuracy within 0.01.
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
mpirun "${root[@]}" --bind-to none --oversubscribe -np 2 -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 \
  "$bin" "${train[@]}" --save "$work/two.keras" >"$work/two.log" 2>&1 || true
check "mpirun -np 2 trains" contains "$work/two.log" "Training on 2 processes: global batch 32"
check "mpirun -np 2 matches one process" python3 - "$(accuracy "$work/one.log")" "$(accuracy "$work/two.log")" <<'EOF'
import sys
one, two = (float(v) if v else -1.0 for v in sys.argv[1:3])
print(f"test accuracy: one process {one}, two processes {two}")
sys.exit(0 if one > 0 and abs(one - two) <= 0.01 else 1)
EOF

# 3. predict on a .npy array: probabilities of the right shape, each row summing to 1.
python3 - "$work/x.npy" <<'EOF'
import random, struct, sys
random.seed(3)
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 28, 28), }"
header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    f.write(struct.pack("<%df" % (8 * 784), *(random.random() for _ in range(8 * 784))))
EOF
"$bin" predict "$work/one.keras" --input "$work/x.npy" --output "$work/y.npy" >"$work/predict.log" 2>&1 || true
check "predict .keras --input/--output" python3 - "$work/y.npy" <<'EOF'
import ast, struct, sys
data = open(sys.argv[1], "rb").read()
length = struct.unpack("<H", data[8:10])[0]
header = ast.literal_eval(data[10:10 + length].decode())
values = struct.unpack("<%df" % (len(data[10 + length:]) // 4), data[10 + length:])
ok = header["shape"] == (8, 10) and len(values) == 80
sums = [sum(values[r * 10:(r + 1) * 10]) for r in range(8)] if ok else []
print(f"y.npy shape {header['shape']}, row sums {[round(s, 5) for s in sums]}")
sys.exit(0 if ok and all(abs(s - 1) < 1e-4 for s in sums) else 1)
EOF

# 4. convert, summary and evaluate on the converted file: the same model, the same test accuracy.
"$bin" convert "$work/one.keras" "$work/one.strata" >"$work/convert.log" 2>&1 || true
"$bin" summary "$work/one.strata" >"$work/summary.log" 2>&1 || true
check "convert and summary" contains "$work/summary.log" "Total params: 101,770"
"$bin" evaluate "$work/one.strata" >"$work/evaluate.log" 2>&1 || true
check "evaluate the converted model" python3 - "$work/evaluate.log" "$(accuracy "$work/one.log")" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
found = re.search(r"accuracy: ([0-9.]+)", text)
print(f"evaluate: {found.group(0) if found else text.strip()[-200:]}; training run: {sys.argv[2]}")
sys.exit(0 if found and sys.argv[2] and abs(float(found.group(1)) - float(sys.argv[2])) < 1e-3 else 1)
EOF

# 5. Image folders: a small slice of Fashion-MNIST as PNG class folders, trained on and evaluated.
python3 - /usr/share/datasets/fashion-mnist "$work/small" <<'EOF'
import gzip, os, struct, sys
source, target = sys.argv[1:3]
os.makedirs(target, exist_ok=True)
for prefix, count in (("train", 600), ("t10k", 200)):
    for kind, item in (("images-idx3-ubyte", 784), ("labels-idx1-ubyte", 1)):
        data = gzip.open(os.path.join(source, f"{prefix}-{kind}.gz")).read()
        rank = data[3]
        dims = list(struct.unpack(">%dI" % rank, data[4:4 + 4 * rank]))
        dims[0] = count
        body = data[4 + 4 * rank:4 + 4 * rank + count * item]
        with gzip.open(os.path.join(target, f"{prefix}-{kind}.gz"), "wb") as out:
            out.write(data[:4] + struct.pack(">%dI" % rank, *dims) + body)
EOF
"$bin" export-images "$work/folders" --data "$work/small" >"$work/export.log" 2>&1 || true
check "export-images" contains "$work/export.log" "Wrote 800 PNG images"
"$bin" train --model cnn --images "$work/folders/train" --epochs 1 --verbose 2 \
  --save "$work/cnn.strata" >"$work/images.log" 2>&1 || true
check "train on image folders" contains "$work/images.log" "Epoch 1/1"
"$bin" evaluate "$work/cnn.strata" --images "$work/folders/test" >"$work/images-eval.log" 2>&1 || true
check "evaluate on image folders" contains "$work/images-eval.log" "Found 200 images of 10 classes"

# 6. Sequences: Keras' GRU file predicts Keras' values on int32 token ids, and a recurrent model
# trains on .npy arrays (strata train --x --y).
fixtures=Tests/StrataTests/Fixtures/keras
python3 - "$fixtures/gru_stack.expected.json" "$work" <<'EOF'
import json, struct, sys
expected = json.load(open(sys.argv[1]))
rows = [[int(v) for v in row] for row in expected["input"]]
def write(path, code, shape, values):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (code, shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), code[-2]), *values))
write(sys.argv[2] + "/ids.npy", "<i4", (len(rows), len(rows[0])), [v for row in rows for v in row])
write(sys.argv[2] + "/labels.npy", "<i4", (len(rows),), [i % 3 for i in range(len(rows))])
with open(sys.argv[2] + "/rnn.json", "w") as f:
    json.dump([{"class_name": "InputLayer", "config": {"batch_shape": [None, len(rows[0])], "dtype": "int32"}},
               {"class_name": "Embedding", "config": {"input_dim": 50, "output_dim": 4}},
               {"class_name": "LSTM", "config": {"units": 5, "dropout": 0.1}},
               {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}}], f)
EOF
"$bin" predict "$fixtures/gru_stack.keras" --input "$work/ids.npy" --output "$work/gru.npy" \
  >"$work/gru.log" 2>&1 || true
check "predict Keras' GRU file on int32 ids" python3 - "$fixtures/gru_stack.expected.json" "$work/gru.npy" <<'EOF'
import json, struct, sys
expected = [v for row in json.load(open(sys.argv[1]))["output"] for v in row]
data = open(sys.argv[2], "rb").read()
length = struct.unpack("<H", data[8:10])[0]
values = struct.unpack("<%df" % (len(data[10 + length:]) // 4), data[10 + length:])
worst = max((abs(a - b) for a, b in zip(values, expected)), default=1)
print(f"gru_stack: {len(values)} values, max |Strata - Keras| {worst:.2e}")
sys.exit(0 if len(values) == len(expected) and worst <= 1e-5 else 1)
EOF
"$bin" train --model "$work/rnn.json" --x "$work/ids.npy" --y "$work/labels.npy" --epochs 2 \
  --verbose 0 --save "$work/rnn.keras" >"$work/arrays.log" 2>&1 || true
check "train an LSTM on .npy arrays" contains "$work/arrays.log" "Trained 2 epochs on 4 samples"

# 7. The sequence seed models: word-language learns a word's language on a slice of the lists
# (guessing gets 0.2), Keras' Transformer file predicts as Keras, sequential-mnist trains.
"$bin" train --model word-language --limit 6000 --epochs 2 --verbose 2 >"$work/words.log" 2>&1 || true
check "word-language learns" contains "$work/words.log" "Test accuracy: 0\.[5-9]"
"$bin" train --model word-transformer --limit 3000 --epochs 1 --verbose 0 >"$work/transformer.log" 2>&1 || true
check "word-transformer trains" contains "$work/transformer.log" "Test accuracy: 0\.[3-9]"
"$bin" train --model sequential-mnist --limit 3000 --epochs 1 --verbose 0 --no-validation \
  >"$work/rows.log" 2>&1 || true
check "sequential-mnist learns" contains "$work/rows.log" "Test accuracy: 0\.[5-9]"

echo "release checks: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
