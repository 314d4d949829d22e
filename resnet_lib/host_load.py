"""How much of a Linux host's CPU other processes used over an interval: what a timing taken on
a shared host needs beside it. The 1-minute load average cannot say it: it lags by a minute,
so it still counts a job that stopped just before (a campaign restarted at once read 2.5 on 2
cores and called the host busy while its ResNet-20 step timed 100.5 ms, its fastest yet)."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

# /proc/stat's first line: cpu user nice system idle iowait irq softirq steal ...; busy is
# everything but idle and iowait (proc(5)), in USER_HZ ticks.
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


@dataclass(frozen=True)
class CpuSample:
    wall: float             # time.monotonic()
    host_busy: float        # CPU seconds all processes have used (all cores), since boot
    own: float              # CPU seconds this process (all its threads) has used


def cpu_sample() -> CpuSample | None:
    """Now, or None where /proc/stat cannot be read (not Linux)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    ticks = sum(int(fields[i]) for i in _BUSY_FIELDS if i < len(fields))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return CpuSample(time.monotonic(), ticks / os.sysconf("SC_CLK_TCK"),
                     usage.ru_utime + usage.ru_stime)


def others_share(before: CpuSample | None, after: CpuSample | None,
                 cores: int | None = None) -> float | None:
    """The fraction of the host's cores that other processes kept busy between two samples
    (0 = none, 1 = all of them), or None without samples."""
    if before is None or after is None or after.wall <= before.wall:
        return None
    cores = cores or os.cpu_count() or 1
    others = (after.host_busy - before.host_busy) - (after.own - before.own)
    return min(max(others / ((after.wall - before.wall) * cores), 0.0), 1.0)
