#!/usr/bin/env bash
# GPU call 2, within 30 s of call 1 (carry: .gpu/b .gpu/scripts results/paper/runs): unpack part b, then the paper
# campaign until <secs>; returns $OUT/paper.tgz.0* (runs, partial).
# Usage: bash .gpu/scripts/gpu2.sh <secs> <commit sha>
set -u
end=$(( $(date +%s) + $1 - 25 ))
python3 .gpu/b/unpack.py .gpu/b /tmp/cifar/cifar-10-batches-py
mkdir -p results/paper && cp -r /tmp/rp/* results/paper/
export PYTHONPATH=. RESNET_LIB_DATA=/tmp/cifar RESNET_LIB_GIT_COMMIT="$2"
left() { echo $(( end - $(date +%s) )); }
hours=$(python3 -c "print(max($(left) - 40, 0) / 3600)")
timeout --signal=TERM $(( $(left) )) python3 -m resnet_lib.campaign --profile paper --hours "$hours" > "$OUT/campaign.log" 2>&1
echo "campaign rc=$?" >> "$OUT/campaign.log"
tar czf - results/paper/runs results/paper/partial 2>/dev/null | split -b 15m - "$OUT/paper.tgz."
