#!/bin/bash
# One sitting: Strata's `bench train` rows, then Keras 3 on JAX, Keras 3 on TensorFlow and PyTorch (2
# threads), then `bench train` again and `bench train --quick`, back to back, with the load average
# between them (a sitting whose load shows other work is not a measurement).
#   Benchmarks/peers/sitting.sh [VENV]     (VENV: a venv with jax[cpu], keras, tensorflow-cpu, torch; /tmp/peers)
set -u
cd "$(dirname "$0")/../.."
python="${1:-/tmp/peers}/bin/python"
swift build -c release --product bench > /dev/null
bench=.build/release/bench
load() { echo "== $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"; }
echo "== $(lscpu | grep 'Model name' | sed 's/  */ /g'), $(nproc) cores"
load; echo "== Strata bench train"; "$bench" train
load; echo "== Keras/JAX"; KERAS_BACKEND=jax "$python" Benchmarks/peers/keras_bench.py 2>/dev/null
load; echo "== Keras/TF"; KERAS_BACKEND=tensorflow "$python" Benchmarks/peers/keras_bench.py 2>/dev/null
load; echo "== PyTorch"; "$python" Benchmarks/peers/torch_bench.py --threads 2
load; echo "== Strata bench train (again)"; "$bench" train
load; echo "== Strata bench train --quick"; "$bench" train --quick
load
