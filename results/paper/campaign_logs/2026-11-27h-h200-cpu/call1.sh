#!/usr/bin/env bash
# GPU call 1 (carry: .gpu/a .gpu/scripts results/paper/partial): unpack part a,
# CUDA-only tests, a short CUDA bench into $OUT. Usage: bash .gpu/scripts/gpu1.sh <commit sha>
set -u
python3 .gpu/a/unpack.py .gpu/a /tmp/cifar/cifar-10-batches-py
mkdir -p /tmp/rp && cp -r results/paper/partial /tmp/rp/
export PYTHONPATH=. RESNET_LIB_GIT_COMMIT="$1"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_train_graph.py 2>&1 | tail -5 | tee -a "$OUT/gpu.txt" || true
RESNET_LIB_DATA=/tmp/cifar timeout 150 python3 -m resnet_lib.bench --seconds 3 --gpu-workers 1 2 3 --out "$OUT/cuda.json" > "$OUT/bench.txt" 2>&1
echo "bench rc=$?" >> "$OUT/bench.txt"
