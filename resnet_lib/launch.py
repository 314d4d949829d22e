"""How many runs train at once, where, and in which processes: the launcher that the run store
(`RunStore.get_many`) and campaigns (campaign.py) share. The store keeps runs; this module
starts the processes that train them.

On a CPU: one single-threaded process per core (what `make bench` compares with one process
using every core). On CUDA: `processes_per_gpu()` per GPU, each GPU with its own workers.
Workers are spawned, not forked (a fork would copy the parent's torch threads), and stop when
their launcher dies (`stop_with_parent`).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

import torch

# Runs trained at once on one GPU where `make bench` has not measured it (processes_per_gpu).
# With the CUDA-graph step one ResNet-20 run keeps an H100 busy: 2 and 3 processes together gave
# 0.93x and 0.95x the images/s of one (results/bench/cuda.json, 2026-11-26). The eager step
# (RESNET_LIB_CUDA_GRAPH=0) is bound by Python instead, and 2 eager runs gave 1.6x one.
RUNS_PER_GPU = 1


def cuda_bench_record() -> dict:
    """`make bench`'s record on a GPU (results/bench/cuda.json), or {} where there is none: what
    the launcher (processes_per_gpu) and a campaign's GPU cost (reference_step.recorded_gpu_step) use."""
    from .store import RESULTS_DIR

    try:
        record = json.loads((RESULTS_DIR / "bench" / "cuda.json").read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def processes_per_gpu() -> int:
    """Runs trained at once on one GPU: what `make bench` measured best on a GPU (its record's
    "processes_per_gpu"), else RUNS_PER_GPU."""
    k = cuda_bench_record().get("processes_per_gpu")
    return k if isinstance(k, int) and k >= 1 else RUNS_PER_GPU


def default_workers(device: torch.device) -> int:
    """Runs trained at once: one single-threaded run per core on a CPU; processes_per_gpu() per
    GPU (on every GPU of the machine unless the device names one)."""
    if device.type == "cpu":
        return os.cpu_count() or 1
    gpus = 1 if device.index is not None else max(1, torch.cuda.device_count())
    return processes_per_gpu() * gpus


def threads_per_worker(device: torch.device, workers: int) -> int:
    """CPU threads of each of `workers` processes: the cores shared out (one on a GPU)."""
    return max(1, (os.cpu_count() or workers) // workers) if device.type == "cpu" else 1


def device_for(device: torch.device, index: int, gpus: int | None = None) -> str:
    """The device of the index-th run trained at once: on a machine with several GPUs (and a
    device that names none), run i goes to GPU i mod count, so each GPU gets its own workers."""
    if device.type != "cuda" or device.index is not None:
        return str(device)
    gpus = torch.cuda.device_count() if gpus is None else gpus
    return f"cuda:{index % gpus}" if gpus > 1 else "cuda"


def process_pool(workers: int, initializer=None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """`workers` spawned processes, each first running stop_with_parent(this process), then
    `initializer(*initargs)`."""
    ctx = multiprocessing.get_context("spawn")  # fork would copy the parent's torch threads
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                               initargs=(os.getpid(), initializer, initargs))


def _init(launcher_pid: int, initializer, initargs: tuple) -> None:
    stop_with_parent(launcher_pid)
    if initializer is not None:
        initializer(*initargs)


_LAUNCHER_PID: int | None = None  # in a worker: the process that started it


def stop_with_parent(launcher_pid: int) -> None:
    """Worker initializer: when the process that started the workers dies (a killed notebook
    kernel, `kill` of the launcher), the kernel sends each worker SIGTERM (Linux): a training
    worker checkpoints at its next step and exits, an idle one just exits. An orphan training on
    would race the restarted notebook for the same checkpoint file, at half speed each, and then
    take the next queued run."""
    global _LAUNCHER_PID
    _LAUNCHER_PID = launcher_pid
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    exit_if_orphaned()  # the launcher died before the line above took effect


def exit_if_orphaned() -> None:
    """In a worker whose launcher is gone: exit at once (nobody is waiting for a result)."""
    if _LAUNCHER_PID is not None and os.getppid() != _LAUNCHER_PID:
        os._exit(128 + signal.SIGTERM)


def job_outcome(run_id: str, run=None, stopped: BaseException | None = None) -> dict:
    """What a process that trains one run (a campaign's worker, a cluster job) returns to the one
    that launched it, as plain data: "finished" with the run's test error, "stopped" (its budget
    spent, or a signal) with why, or "not started"."""
    if run is not None:
        return {"run_id": run_id, "result": "finished", "test_error": run.final_error("test")}
    if stopped is not None:
        return {"run_id": run_id, "result": "stopped", "detail": str(stopped)}
    return {"run_id": run_id, "result": "not started"}


def describe_outcome(outcome: dict) -> str:
    """One line for a job_outcome."""
    if outcome["result"] == "finished":
        return f"{outcome['run_id']}: finished, test error {outcome['test_error']:.2f}%"
    return f"{outcome['run_id']}: {outcome.get('detail', outcome['result'])}"
