"""host_load: the share of a host's cores other processes used over an interval."""

import os
import subprocess
import sys
import time

import pytest

from resnet_lib.host_load import CpuSample, cpu_sample, others_share


def test_others_share_counts_the_host_less_this_process():
    before = CpuSample(wall=10.0, host_busy=100.0, own=50.0)
    # 2 s on 4 cores: the host used 5 CPU seconds, this process 2 of them
    assert others_share(before, CpuSample(12.0, 105.0, 52.0), cores=4) == pytest.approx(3 / 8)
    assert others_share(before, CpuSample(12.0, 102.0, 52.0), cores=4) == 0.0  # all its own
    assert others_share(None, before) is None and others_share(before, before) is None


@pytest.mark.skipif(cpu_sample() is None, reason="needs /proc/stat (Linux)")
def test_others_share_sees_a_busy_process_and_not_this_one():
    """A process spinning one core is seen; this process spinning is not."""
    spin = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 3: pass"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.5)  # past its start-up
        before = cpu_sample()
        time.sleep(1.0)
        busy = others_share(before, cpu_sample())
    finally:
        child.wait()
    assert busy * (os.cpu_count() or 1) > 0.6  # about one core's worth (other work adds more)
    before = cpu_sample()
    t = time.monotonic()
    while time.monotonic() - t < 1.0:
        pass
    quiet = others_share(before, cpu_sample())
    assert quiet < busy - 0.2
