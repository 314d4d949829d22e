"""Campaigns on a cluster: one submitit job per run, each training one config into the run store
on the shared filesystem (campaign.py's `--executor slurm`).

    make campaign PROFILE=paper EXECUTOR=slurm CLUSTER="--partition gpu --account abc123"
    make campaign PROFILE=paper STATUS=1       # done, running, queued, partial, missing

The jobs go to Slurm as one job array (submitit batches them), each with one GPU, the time,
partition and account given (`ClusterSettings`). A job trains its run through
`RunStore.train`, so it resumes from the run's checkpoint or partial record and publishes the
finished run to `results/<profile>/runs/` like any other process; the project folder (results,
and `.cache/` with its checkpoints) must be on a filesystem every node sees.

Preemption and time limits: Slurm sends the job SIGUSR2 `signal_delay_s` before its time is up
(submitit asks for it), and SIGTERM when it preempts it; SIGUSR1 is treated the same. The job
does not stop in the middle of a step: the signal sets a flag, the trainer stops at the next
step boundary and checkpoints, the job keeps a partial record, and only then asks submitit to
requeue it (its `checkpoint` gives the same job again, which resumes from that checkpoint).
Submitit's own handler would checkpoint from inside the signal handler, halfway through a step.
Nothing is lost and no iteration is trained twice. SIGINT (a cancelled local job, Ctrl-C) stops
the job with its checkpoint and does not requeue it.

Queued and running jobs: each submitted run leaves a record `<cache>/jobs/<run_id>.json` (the
executor, the job id, the submitit folder, the host). A campaign run again asks the scheduler
(Slurm: sacct through submitit; the local executor: whether the controller process lives) and
does not submit a run whose job is still queued or running, nor one another process is training
(the store's lock); it skips finished runs and resumes partial ones.

`--executor submitit-local` submits the same jobs through submitit's LocalExecutor: real jobs
as local processes, through the same code path (the tests use it; no cluster needed).
`--executor local`, the default, is the campaign of one machine (campaign.py, launch.py).

submitit is imported only here, and only when a job is submitted or a Slurm job is looked up:
a campaign on one machine needs no more than the run store does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import atomic
from .config import RunConfig
from .launch import describe_outcome, job_outcome
from .store import RunStore
from .train import Interrupted, StopTraining, default_device

EXECUTORS = ("local", "slurm", "submitit-local")
# Signals after which a job checkpoints at the next step and is requeued (module docstring).
REQUEUE_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM)
# Slurm job states in which a job is still to run or running (sacct's names; READY: submitit's
# name for a job submitted and not yet known to sacct).
LIVE_SLURM_STATES = {"READY", "PENDING", "RUNNING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD",
                     "RESIZING", "CONFIGURING", "COMPLETING", "SUSPENDED", "SIGNALING",
                     "STAGE_OUT", "PREEMPTED"}
RUNNING_SLURM_STATES = {"RUNNING", "COMPLETING", "CONFIGURING", "SIGNALING", "STAGE_OUT"}


@dataclass
class ClusterSettings:
    """What each job asks the scheduler for (the campaign's --partition, --account, ...)."""

    partition: str | None = None
    account: str | None = None
    time_min: int = 240              # per job; a job out of time is requeued and resumes
    gpus_per_job: int = 1            # 0: CPU jobs
    cpus_per_job: int = 8            # data on the GPU: a few cores suffice
    array_parallelism: int = 64      # jobs of the array running at once
    max_requeues: int = 100          # time-outs before submitit gives a job up
    signal_delay_s: int = 120        # SIGUSR2 this long before the time limit
    mem_gb: int | None = None

    def executor_parameters(self, profile: str) -> dict:
        """submitit AutoExecutor parameters (generic, and slurm_ ones that others ignore)."""
        p = {"name": f"resnet-{profile}", "timeout_min": self.time_min, "nodes": 1,
             "tasks_per_node": 1, "gpus_per_node": self.gpus_per_job,
             "cpus_per_task": self.cpus_per_job,
             "slurm_array_parallelism": self.array_parallelism,
             "slurm_signal_delay_s": self.signal_delay_s,
             # requeue after preemption or node failure, as after a time-out
             "slurm_additional_parameters": {"requeue": True}}
        if self.partition:
            p["slurm_partition"] = self.partition
        if self.account:
            p["slurm_account"] = self.account
        if self.mem_gb:
            p["mem_gb"] = self.mem_gb
        return p


# ------------------------------------------------------------------------------ the job


class TrainJob:
    """One run, trained inside a submitit job (or called directly: then a signal just stops it).

    Callable with no arguments; submitit pickles it, runs it on a node and, on a requeue, runs
    `checkpoint()`'s job instead. It holds only paths and the config, never a model."""

    def __init__(self, store_root: str, cache: str, config: dict, data_root: str,
                 device: str | None = None, threads: int | None = None):
        self.store_root, self.cache, self.config = store_root, cache, config
        self.data_root, self.device, self.threads = data_root, device, threads

    def __call__(self) -> dict:
        from .data import load_cifar10

        config = RunConfig.from_dict(self.config)
        if self.threads:
            torch.set_num_threads(self.threads)
        store = RunStore(self.store_root, self.cache)
        device = torch.device(self.device) if self.device else default_device()
        received: list[int] = []
        # submitit's handler of its signal, kept to requeue with once the checkpoint is written.
        # Ours only note the signal; while the trainer runs, its own handler notes SIGTERM (and
        # SIGINT) and stops at the next step; one that came before stops it at its first.
        requeue_with = {s: signal.getsignal(s) for s in REQUEUE_SIGNALS}
        for s in REQUEUE_SIGNALS:
            signal.signal(s, lambda signum, frame: received.append(signum))
        print(f"training {config.run_id} on {device} ({socket.gethostname()})", flush=True)
        try:
            run = store.train(config, load_cifar10(self.data_root, download_if_missing=False),
                              device, progress=False, should_stop=lambda: bool(received))
        except (StopTraining, Interrupted) as e:
            signum = received[0] if received else getattr(e, "signum", None)
            kept = store.save_partial(config)
            print(f"{config.run_id}: {e}; partial record {kept}", flush=True)
            if signum in REQUEUE_SIGNALS:
                _requeue(requeue_with)  # exits the process when submitit runs this job
            return job_outcome(config.run_id, stopped=e)
        outcome = job_outcome(config.run_id, run)
        print(describe_outcome(outcome), flush=True)
        return outcome

    def checkpoint(self, *args, **kwargs):
        """What submitit requeues: this job again (it holds only paths and the config); it
        resumes from the run's checkpoint."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self)


def _requeue(submitit_handlers: dict) -> None:
    """Requeue this job through submitit's own signal handler (it calls `checkpoint`, saves the
    job to run next, requeues: `scontrol requeue` on Slurm, an exit code its controller restarts
    locally; then exits). Outside a submitit job there is none: return."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return
    from submitit.core.job_environment import JobEnvironment

    usr = JobEnvironment._usr_sig()
    handler = submitit_handlers.get(usr)
    if callable(handler):
        handler(usr, None)


# ------------------------------------------------------------------------------ job records


def _record_path(store: RunStore, config: RunConfig) -> Path:
    return store.cache / "jobs" / f"{config.run_id}.json"


def write_record(store: RunStore, config: RunConfig, executor: str, job_id: str,
                 folder: Path) -> None:
    atomic.write_json(_record_path(store, config), {
        "run_id": config.run_id, "executor": executor, "job_id": str(job_id),
        "folder": str(folder), "host": socket.gethostname(), "submitted": time.time()})


def job_state(store: RunStore, config: RunConfig) -> tuple[str, dict] | None:
    """("queued" | "running", record) while the run's submitted job is still to run or running,
    else None (no job, or it ended: finished, failed, cancelled)."""
    path = _record_path(store, config)
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record["executor"] == "submitit-local":
        # The job id is its controller's pid, on the host that submitted it.
        if record["host"] != socket.gethostname() or not _pid_runs_submitit(record["job_id"]):
            return None
        return "running", record
    from submitit import SlurmJob

    state = SlurmJob(record["folder"], record["job_id"]).state.split()[0].upper()
    if state == "UNKNOWN":
        # sacct cannot say (no accounting on this cluster, or the job is too old for it): count
        # it as queued rather than submit the run twice; deleting the record releases it.
        record["job_id"] += f" (state unknown to sacct; delete {path} if the job is gone)"
        return "queued", record
    if state not in LIVE_SLURM_STATES:
        return None
    return ("running" if state in RUNNING_SLURM_STATES else "queued"), record


def _pid_runs_submitit(pid: str) -> bool:
    try:
        cmdline = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"submitit" in cmdline


# ------------------------------------------------------------------------------ submitting


def make_executor(name: str, folder: Path, settings: ClusterSettings, profile: str):
    import submitit

    cluster = {"slurm": "slurm", "submitit-local": "local"}[name]
    executor = submitit.AutoExecutor(folder, cluster=cluster,
                                     slurm_max_num_timeout=settings.max_requeues,
                                     local_max_num_timeout=settings.max_requeues)
    params = settings.executor_parameters(profile)
    if cluster == "local":
        params.pop("cpus_per_task", None)  # the local executor has no such setting
    executor.update_parameters(**params)
    return executor


def submit(store: RunStore, configs: list[RunConfig], data_root: str, executor_name: str,
           settings: ClusterSettings, profile: str, device: str | None = None) -> list:
    """Submit one job per config (one job array on Slurm), skipping configs whose job is queued
    or running or that another process is training; returns the submitted submitit jobs."""
    todo = []
    for c in configs:
        live = job_state(store, c)
        if live is not None:
            print(f"  {c.run_id}: {live[0]} as job {live[1]['job_id']}; not submitted again")
        elif store.is_training(c):
            print(f"  {c.run_id}: being trained by another process; not submitted")
        else:
            todo.append(c)
    if not todo:
        print("nothing to submit")
        return []
    folder = store.cache / "submitit" / profile
    executor = make_executor(executor_name, folder, settings, profile)
    threads = settings.cpus_per_job if settings.gpus_per_job == 0 else None
    if executor_name == "submitit-local":
        threads = 1
    jobs = []
    with executor.batch():
        for c in todo:
            jobs.append(executor.submit(TrainJob(str(store.root), str(store.cache), c.to_dict(),
                                                 data_root, device, threads)))
    for c, job in zip(todo, jobs):
        write_record(store, c, executor_name, job.job_id, folder)
        print(f"  {c.run_id}: submitted as job {job.job_id}")
    print(f"{len(jobs)} job(s) submitted through submitit ({executor_name}); logs in {folder}; "
          "`make campaign STATUS=1` shows where they stand", flush=True)
    return jobs


def settings_summary(settings: ClusterSettings) -> str:
    return ", ".join(f"{k}={v}" for k, v in asdict(settings).items() if v is not None)
