"""The run lock (resnet_lib/locks.py): one holder at a time, across processes, and none left
behind by a holder that is killed."""

import subprocess
import sys

from resnet_lib.locks import RunLock

HOLD = """
import sys, time
from resnet_lib.locks import RunLock
lock = RunLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_lock_held_by_another_process_is_seen_and_freed_when_that_process_is_killed(tmp_path):
    path = tmp_path / "run.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = RunLock(path)
        assert lock.held_elsewhere()
        assert not lock.acquire(blocking=False)
    finally:
        holder.kill()
        holder.wait()
    assert not lock.held_elsewhere()          # the kernel dropped it with its process
    with lock:
        assert RunLock(path).held_elsewhere()  # a second holder in this process is refused too
    assert not RunLock(path).held_elsewhere()


def test_no_lock_file_means_no_holder(tmp_path):
    assert not RunLock(tmp_path / "never.lock").held_elsewhere()
    assert not (tmp_path / "never.lock").exists()
