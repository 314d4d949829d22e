# Call 2: unpack part b; restore plain-56's partial; the paper campaign for $1 s; tar results/paper back.
set -u; T0=$(date +%s)
[ -d /tmp/rp/partial ] || { echo "machine went cold: part a and plain-56 partial gone"; exit 3; }
python3 .gpu/b/unpack.py .gpu/b /tmp/cifar/cifar-10-batches-py 2>&1 | tail -2
cp -rn /tmp/rp/partial/* results/paper/partial/ && ls results/paper/partial results/paper/runs
export PYTHONPATH=.:.gpu/pylib3 RESNET_LIB_DATA=/tmp/cifar RESNET_LIB_GIT_COMMIT=fa2c4d4659b28bc98d3f7f6ad11fdd994a7ce9fc GIT_DIR=/nonexistent
[ -f /tmp/graph_ok ] || { echo "graph tests did not pass: eager step"; export RESNET_LIB_CUDA_GRAPH=0; }
timeout -s TERM $1 python3 -m resnet_lib.campaign --profile paper --hours 1 --workers 1 2>&1 | grep -v Warning | tee $OUT/campaign.txt | grep -v "missing"
echo "campaign ended at +$(( $(date +%s) - T0 )) s"
tar czf /tmp/paper.tgz results/paper/runs results/paper/partial && split -b 15m -d /tmp/paper.tgz $OUT/paper.tgz.
ls -la $OUT; echo "call 2 done at +$(( $(date +%s) - T0 )) s"
