# Call 3 (machine still warm): the campaign again for $1 s from where call 2 left results/paper.
set -u; T0=$(date +%s)
ls results/paper/partial results/paper/runs
export PYTHONPATH=.:.gpu/pylib3 RESNET_LIB_DATA=/tmp/cifar RESNET_LIB_GIT_COMMIT=fa2c4d4659b28bc98d3f7f6ad11fdd994a7ce9fc GIT_DIR=/nonexistent
[ -f /tmp/graph_ok ] || export RESNET_LIB_CUDA_GRAPH=0
timeout -s TERM $1 python3 -m resnet_lib.campaign --profile paper --hours 1 --workers 1 2>&1 | grep -v Warning | tee $OUT/campaign3.txt | grep -v "missing"
tar czf /tmp/paper.tgz results/paper/runs results/paper/partial && split -b 15m -d /tmp/paper.tgz $OUT/paper.tgz.
ls -la $OUT; echo "call 3 done at +$(( $(date +%s) - T0 )) s"
