# Call 1: unpack part a; the CUDA-graph tests; stash plain-56's partial record in /tmp.
set -u; T0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.used --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)"
git rev-parse HEAD 2>&1 | head -1
python3 .gpu/a/unpack.py .gpu/a /tmp/cifar/cifar-10-batches-py 2>&1 | tail -2
export PYTHONPATH=.:.gpu/pylib3 RESNET_LIB_GIT_COMMIT=fa2c4d4659b28bc98d3f7f6ad11fdd994a7ce9fc GIT_DIR=/nonexistent
python3 -c "from resnet_lib import provenance as p; print(p.code_version())"
rm -f /tmp/graph_ok
timeout 120 python3 -m pytest -q -s -p no:cacheprovider tests/test_train_graph.py 2>&1 | tail -12 | tee $OUT/graph_tests.txt
grep -q "6 passed" $OUT/graph_tests.txt && touch /tmp/graph_ok
rm -rf /tmp/rp && mkdir -p /tmp/rp && cp -r results/paper/partial /tmp/rp/ && ls /tmp/rp/partial
echo "call 1 done at +$(( $(date +%s) - T0 )) s; graph ok: $([ -f /tmp/graph_ok ] && echo yes || echo NO)"
