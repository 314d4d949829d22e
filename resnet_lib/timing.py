"""Rates of a step (units a second), timed so that a shared host's drift and stalls move the
numbers as little as they can: `make bench` and the campaign's reference step use these."""

from __future__ import annotations

import statistics
import time

import torch


def timed(step, device, seconds: float, batch: int = 128) -> float:
    """Units a second (`batch` a step) of `step` over at least `seconds` and 3 steps."""
    if device.type == "cuda":
        torch.cuda.synchronize()  # nothing queued before counts
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        step()
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n * batch / (time.perf_counter() - t0)


def median_rate(step, device, seconds: float, windows: int, batch: int = 128) -> float:
    """Units a second of `step`: the median of `windows` windows of seconds / windows each. A
    passing stall (a campaign on this study's AMD EPYC once timed its ResNet-20 step at 178 ms
    on start, where steps right after took 109-145 ms) moves one window, not the estimate."""
    return statistics.median(timed(step, device, seconds / windows, batch=batch)
                             for _ in range(windows))


def interleaved(steps: dict, device, seconds: float, rounds: int) -> dict[str, list[float]]:
    """Rates (units a second) of each of `steps` ({name: (step, units a step)}) in `rounds`
    rounds, each round timing every step in turn: `seconds` in all for a step, a quarter of it
    for each "ceiling" candidate (steady, and timed only to scale the others). A shared host's
    speed drifts (this study's moved 10-20% within minutes), and a drift moves all the steps of
    one round alike: ratios within a round hold where ratios between separate runs do not."""
    out = {name: [] for name in steps}
    for _ in range(rounds):
        for name, (step, units) in steps.items():
            step()  # untimed: settles what the step before left in caches and queues
            each = seconds / rounds / (4 if name.startswith("ceiling") else 1)
            out[name].append(timed(step, device, each, batch=units))
    return out


def median_ratio(a: list[float], b: list[float]) -> float:
    """The median over rounds of a[i] / b[i]: a ratio of two things measured side by side."""
    return statistics.median(x / y for x, y in zip(a, b))
