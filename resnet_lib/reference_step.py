"""A campaign's yardstick: how long one ResNet-20 training step takes on this device, timed before
the campaign trains; every run's cost is scaled from it (campaign.estimated_seconds).

On a shared CPU the timing measures the load as much as the device. Beside a CI run, a campaign
at nice 19 timed 2,516 ms for a step that takes 283 ms on the idle host (2026-12-04), so it
estimated every run above `--max-run-hours 15` and trained nothing. Hence:
- a step timed while other work kept the host busy is timed again after a pause, and the
  fastest timing is kept (a passing load, such as a test run's start, is gone by then);
- each timing on an idle host is recorded in the cache (`reference_steps.json`, one entry per
  CPU model, thread count, instruction set, profile, step kind and torch version), and where
  the host stays busy, `--max-run-hours`, which asks how fast the device is and not how loaded,
  is judged with that record. The estimates printed stay those of the busy host: what the
  budget will buy now.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from . import atomic, bench_steps, timing
from .host_load import cpu_sample, others_share
from .launch import cuda_bench_record
from .profiles import get_profile
from .provenance import device_name
from .train import step_kind

RECORD_NAME = "reference_steps.json"


@dataclass(frozen=True)
class ReferenceStep:
    seconds: float         # a ResNet-20 step here now, load included: the printed estimates
    line: str              # what was timed, how, and whether the host was busy
    device_seconds: float  # the device's own step, for --max-run-hours (see the module doc)


def reference_step_timer(profile: str, device: torch.device, data, seconds: float = 2.0,
                         windows: int = 5):
    """A function that times the project's ResNet-20 step under the profile's recipe on
    `device`, as `make bench` builds it, each time it is called (the step is built and warmed
    up once): (seconds a step, the median of `windows` windows: timing.median_rate; the share
    of the host's cores other processes used meanwhile: host_load.others_share, None where it
    cannot be read)."""
    step, batch = bench_steps.ours_step(20, data, device, recipe=get_profile(profile).recipe)

    def time_it() -> tuple[float, float | None]:
        before = cpu_sample()
        rate = timing.median_rate(step, device, seconds, windows, batch=batch)
        return batch / rate, others_share(before, cpu_sample())

    return time_it


def timed_reference_step(profile: str, device: torch.device, data, cache: Path | None = None,
                         attempts: int = 3, pause: float = 30.0, timer=None) -> ReferenceStep:
    """The reference step, timed up to `attempts` times `pause` seconds apart while the host is
    busy (busy_host_note), with the line that a campaign and --status print above the costs.
    With a `cache` folder, an idle timing is recorded there, and a busy one falls back on that
    record for `device_seconds`. `timer`: reference_step_timer's function (built if None)."""
    time_it = timer or reference_step_timer(profile, device, data)
    best = None
    for attempt in range(attempts):
        load = os.getloadavg()[0]  # the fallback where the share cannot be read: before the step
        step, share = time_it()
        busy = busy_host_note(device, share=share, load=load)
        if not busy:
            best = (step, busy)
            break
        best = min(best or (step, busy), (step, busy))
        if attempt + 1 < attempts:
            print(f"the host is busy (ResNet-20 step {step * 1e3:.1f} ms); timing it again "
                  f"in {pause:.0f} s", flush=True)
            time.sleep(pause)
    step, busy = best
    kind = step_kind(device, get_profile(profile).recipe.iterations)
    line = (f"measured: ResNet-20 step {step * 1e3:.1f} ms on this device ({kind} step){busy}; "
            "other models scaled by multiply-adds")
    key = f"{device_name(device)}; profile {profile}; {kind} step; torch {torch.__version__}"
    device_seconds = step
    if cache is not None and not busy:
        record_idle_step(cache, key, step)
    elif cache is not None:
        idle = recorded_idle_step(cache, key)
        if idle is not None and idle[0] < step:
            device_seconds = idle[0]
            line += (f"; --max-run-hours is judged with this host's step when idle, "
                     f"{idle[0] * 1e3:.1f} ms (timed {idle[1]})")
    return ReferenceStep(step, line, device_seconds)


def record_idle_step(cache: Path, key: str, seconds: float) -> None:
    """Keep `seconds` as the idle step of `key` (the latest timing wins) in the cache."""
    path = Path(cache) / RECORD_NAME
    records = _read(path)
    records[key] = {"seconds": seconds,
                    "timed": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, records)


def recorded_idle_step(cache: Path, key: str) -> tuple[float, str] | None:
    """(seconds, when timed) of the last idle timing of `key`, or None."""
    entry = _read(Path(cache) / RECORD_NAME).get(key)
    try:
        return float(entry["seconds"]), str(entry["timed"])
    except (KeyError, TypeError, ValueError):
        return None


def _read(path: Path) -> dict:
    """The records, or none where the file is missing or unreadable (a cache can be deleted)."""
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def busy_host_note(device: torch.device, share: float | None = None,
                   load: float | None = None) -> str:
    """On a CPU that other work kept busy while the step was timed (other processes used more
    than a quarter of its cores: `share`, host_load.others_share), a warning that the step, and
    so the estimate, is slower than on an idle host: a campaign at nice 19 beside a foreground
    job measured 926 ms for a step of 136 ms. Where the share is unknown, the 1-minute load
    average above half the cores says the same, less surely (it lags by a minute). Empty
    otherwise."""
    if device.type != "cpu":
        return ""
    cores = os.cpu_count() or 1
    if share is not None:
        if share <= 0.25:
            return ""
        return (f" (this host was busy: other work used {share:.0%} of its {cores} cores while the "
                "step was timed; the step and the estimate below are for a host this busy)")
    load = os.getloadavg()[0] if load is None else load
    if load <= cores / 2:
        return ""
    return (f" (this host was busy: load average {load:.1f} on {cores} cores; the step and the "
            "estimate below are for a host this busy)")


def recorded_gpu_step() -> tuple[float, str] | None:
    """(seconds per ResNet-20 step, GPU name) from `make bench`'s record on a GPU
    (launch.cuda_bench_record), for the cost of a campaign on a cluster seen from a login node
    without a GPU; None if there is no record. The paper recipe's batch (128), as benched."""
    record = cuda_bench_record()
    try:
        ms = record["throughput_images_per_second"]["resnet20"]["ms_per_step"]["ours"]
        return ms / 1000, record["environment"]["device_name"]
    except (KeyError, TypeError):
        return None
