"""Campaigns: train a profile's most important unfinished runs for a time budget, then stop.

    make campaign PROFILE=paper HOURS=0.15          # python -m resnet_lib.campaign --profile paper --hours 0.15
    make campaign PROFILE=paper STATUS=1            # what is done, partial, missing, and the cost to go

The `paper` profile is far more training than one machine gives at a time (claim 1 alone is
about 12 H100-hours at eager speed; a 2-core CPU needs about 4 h per ResNet-20). A campaign
trains for `--hours`, in priority order (`plan`), then every run it started and could not finish
is checkpointed and kept as a partial record under `results/<profile>/partial/<run_id>/`
(store.py): weights, momentum, RNG state, iteration, metrics so far, and every device that
trained a part. Commit that folder; the next campaign, on any machine with a GPU or a CPU,
continues each run from there with the same recipe and batches, and a run that finishes is
published to `results/<profile>/runs/` like any other.

Before it trains, a campaign prints its estimated cost: a ResNet-20 training step is timed on the
current device (reference_step.py: timed again while other work keeps the host busy), and every
other model's step is scaled from it by multiply-adds (complexity.py); evaluation adds its
share. SIGTERM or Ctrl-C stop it at the next step, with the same checkpoints and partial records
as a spent budget.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import as_completed
from dataclasses import dataclass

import torch

from .complexity import model_multiply_adds
from .config import RunConfig
from .launch import (RUNS_PER_GPU, default_workers, describe_outcome,
                     device_for, job_outcome, process_pool, threads_per_worker)
from .reference_step import recorded_gpu_step, timed_reference_step
from .store import RunStore, last_test_text
from .train import StopTraining, default_device

# Claim 1's depths in the order they matter: the two ends of the paper's curve first.
CLAIM1_DEPTH_ORDER = (20, 56, 32, 44, 110)


# ------------------------------------------------------------------------------ what to train


def plan(profile: str) -> list[tuple[str, RunConfig]]:
    """Every run of the profile's training notebooks (01-03), most important first, each once:
    claim 1's first seed at depths 20, 56, 32, 44 (plain and ResNet), then 110; then its other
    seeds at the two ends of the curve, 20 and 56, seed by seed (claim 1's verdict needs seed
    noise at both ends: plain_vs_residual.verdict_from_table), then at the other depths; then
    claim 2's options B and C (A is claim 1's ResNet); then claim 3."""
    from . import claims
    from .claims import identity_mappings, plain_vs_residual, shortcut_options

    p1, p2, p3 = (claims.defaults(n, profile) for n in ("01", "02", "03"))
    c1 = plain_vs_residual.configs(profile, p1["depths"], p1["seeds"])
    first_seed = min(p1["seeds"])

    def depth_rank(depth: int) -> int:
        return CLAIM1_DEPTH_ORDER.index(depth) if depth in CLAIM1_DEPTH_ORDER else 100 + depth

    ends = CLAIM1_DEPTH_ORDER[:2]

    def claim1_priority(c) -> tuple:
        if c.seed == first_seed:
            return (0, depth_rank(c.depth), c.seed, c.model)
        if c.depth in ends:  # seed by seed: the second seed at both ends before a third at one
            return (1, c.seed, depth_rank(c.depth), c.model)
        return (2, depth_rank(c.depth), c.seed, c.model)

    c1.sort(key=claim1_priority)
    c2 = sorted(shortcut_options.configs(profile, p2["depths"], p2["seeds"]),
                key=lambda c: (c.seed, c.depth))
    c3 = identity_mappings.configs(profile, p3["depth"], p3["variants"], p3["seeds"],
                                   p3.get("original_seeds"), p3.get("bottleneck_depth"))
    c3.sort(key=lambda c: c.seed)
    out, seen = [], set()
    for claim, configs in (("01", c1), ("02", c2), ("03", c3)):
        for c in configs:
            if c.hash not in seen:
                seen.add(c.hash)
                out.append((claim, c))
    return out


@dataclass
class Entry:
    """Where one planned run stands."""

    claim: str
    config: RunConfig
    state: str          # "done", "running", "queued" (a cluster job), "partial" (a record to
                        # commit or continue), "missing"
    iteration: int      # iterations trained so far
    where: str = ""     # for partial runs: the committed record, the local checkpoint, or both
    last_test: dict | None = None  # of an unfinished run: its partial record's last logged
                                   # test error, {"error": %, "iteration": n}

    @property
    def iterations_left(self) -> int:
        return 0 if self.state == "done" else self.config.recipe.iterations - self.iteration

    @property
    def last_test_text(self) -> str:
        """'test error 11.48% at 44,000', or '' where no test error is logged yet."""
        return last_test_text(self.last_test)


def status(store: RunStore, planned: list[tuple[str, RunConfig]]) -> list[Entry]:
    """Done (stored); running (a process holds the run's lock, or its cluster job runs); queued
    (its cluster job waits); partial (the further along of the committed record and the local
    checkpoint); or missing, for each planned run."""
    jobs = (store.cache / "jobs").is_dir()  # cluster.py's records: only if jobs were submitted
    out = []
    for claim, c in planned:
        if store.load(c) is not None:
            out.append(Entry(claim, c, "done", c.recipe.iterations))
            continue
        record = store.partial_progress(c)
        local = store.checkpoint_iteration(c)
        at = max(record["iteration"] if record else 0, local or 0)
        last_test = (record or {}).get("last_errors", {}).get("test")
        where = " + ".join(w for w, i in (("partial record", record and record["iteration"]),
                                            ("local checkpoint", local)) if i == at and i is not None)
        live = None
        if jobs:
            from .cluster import job_state

            live = job_state(store, c)
        if live is not None:
            out.append(Entry(claim, c, live[0], at, f"job {live[1]['job_id']}"
                             + (f", from {where}" if where else ""), last_test))
        elif store.is_training(c):
            out.append(Entry(claim, c, "running", at, "another process holds its lock", last_test))
        elif record is None and local is None:
            out.append(Entry(claim, c, "missing", 0))
        else:
            out.append(Entry(claim, c, "partial", at, where, last_test))
    return out


# ------------------------------------------------------------------------------ what it costs


def macs(config: RunConfig) -> int:
    return model_multiply_adds(config.model, **config.model_options)


def estimated_seconds(config: RunConfig, iterations: int, reference_step: float,
                      test_images: int) -> float:
    """Time for `iterations` more steps of `config`: the reference step scaled by multiply-adds,
    plus evaluation (a forward pass is about a third of a training step's work per image)."""
    r = config.recipe
    ref = macs(RunConfig("resnet", 0, r, {"depth": 20}))
    step = reference_step * macs(config) / ref
    eval_images = test_images + r.train_eval_images + (5_000 if r.val_split else 0)
    eval_share = eval_images / (3 * r.batch_size * r.eval_every)
    return iterations * step * (1 + eval_share)


STATES = ("done", "running", "queued", "partial", "missing")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def status_table(entries: list[Entry], reference_step: float | None = None,
                 test_images: int = 10_000) -> str:
    """One line per run, then the totals: what a user reads with --status."""
    lines = []
    for e in entries:
        it = e.config.recipe.iterations
        cost = ("" if reference_step is None or e.state == "done" else
                f"  ~{_hours(estimated_seconds(e.config, e.iterations_left, reference_step, test_images))} to go")
        where = "; ".join(w for w in (e.where, e.last_test_text) if w)
        where = f" ({where})" if where else ""
        lines.append(f"  {e.claim}  {e.state:<8} {e.iteration:>6,}/{it:<6,} "
                     f"{e.config.run_id}{where}{cost}")
    counts = {s: sum(e.state == s for e in entries) for s in STATES}
    total = ""
    if reference_step is not None:
        left = sum(estimated_seconds(e.config, e.iterations_left, reference_step, test_images)
                   for e in entries)
        total = f"; about {_hours(left)} of training to go on this device, one run at a time"
    shown = [s for s in STATES if counts[s] or s in ("done", "partial", "missing")]
    lines.append(", ".join(f"{counts[s]} {s}" for s in shown) + total)
    return "\n".join(lines)


# ------------------------------------------------------------------------------ training


_STOP = None          # in a worker: the campaign's stop event
_DEADLINE = None      # in a worker: time.time() at which the budget is spent


def _init_worker(stop_event, deadline: float, threads: int) -> None:
    global _STOP, _DEADLINE
    _STOP, _DEADLINE = stop_event, deadline
    torch.set_num_threads(threads)


def _budget_spent() -> bool:
    return _STOP.is_set() or time.time() >= _DEADLINE


def _train_one(root: str, cache: str, config_dict: dict, data_root: str, device: str) -> dict:
    """In a worker: train one run until it finishes or the budget is spent."""
    from .data import load_cifar10

    config = RunConfig.from_dict(config_dict)
    if _budget_spent():
        return job_outcome(config.run_id)
    store = RunStore(root, cache)
    try:
        run = store.train(config, load_cifar10(data_root, download_if_missing=False),
                          torch.device(device), progress=False, should_stop=_budget_spent)
    except (StopTraining, KeyboardInterrupt) as e:
        return job_outcome(config.run_id, stopped=e)
    return job_outcome(config.run_id, run)


def _tidy_status(store: RunStore, profile: str) -> list[Entry]:
    """Before a campaign trains or submits: delete partial records their finished runs
    supersede, then where each planned run stands."""
    planned = plan(profile)
    for _, c in planned:
        if store.discard_superseded_partial(c):
            print(f"{c.run_id}: finished and stored; its leftover partial record is deleted")
    return status(store, planned)


class UnknownRunIds(ValueError):
    """Run ids asked for (`--only`) that the profile does not plan."""


def unfinished(entries: list[Entry], only: list[str] | None = None,
               limit: int | None = None) -> list[Entry]:
    """The entries still to train, in priority order: all of them, or those whose run id is in
    `only` (UnknownRunIds names any id the profile does not plan); at most `limit`."""
    if only is not None:
        unknown = sorted(set(only) - {e.config.run_id for e in entries})
        if unknown:
            raise UnknownRunIds(f"not runs of this profile: {', '.join(unknown)}")
    return [e for e in entries
            if e.state != "done" and (only is None or e.config.run_id in only)][:limit]


def split_by_length(todo: list[Entry], reference_step: float, test_images: int,
                    max_run_hours: float | None) -> tuple[list[Entry], list[Entry]]:
    """(the runs whose estimated time to go on this device is at most `max_run_hours`, the
    longer ones), each in priority order; all of them fit where there is no limit."""
    if max_run_hours is None:
        return todo, []
    fits = [estimated_seconds(e.config, e.iterations_left, reference_step, test_images)
            <= max_run_hours * 3600 for e in todo]
    return ([e for e, f in zip(todo, fits) if f], [e for e, f in zip(todo, fits) if not f])


def run(profile: str, hours: float, workers: int | None = None, device: torch.device | None = None,
        data_dir: str | None = None, limit: int | None = None,
        only: list[str] | None = None, max_run_hours: float | None = None) -> list[Entry]:
    """Train the profile's unfinished runs in priority order for `hours`, then keep every
    unfinished one as a partial record. Returns the status afterwards. `only`: train just these
    run ids, e.g. on a machine that has the partial records but not the finished runs, which a
    GPU upload limit may leave behind (`--todo` lists them where the finished runs are).
    `max_run_hours`: skip the runs estimated to take longer than this on this device (a
    ResNet-110 paper run is about 14 h on a 2-core CPU and 23 min on an H100), leaving them to a
    faster machine instead of starting them here."""
    from .data import load_cifar10

    device = device or default_device()
    store = RunStore.for_profile(profile)
    data = load_cifar10(data_dir, download_if_missing=False)
    entries = _tidy_status(store, profile)
    todo = unfinished(entries, only)
    reference = timed_reference_step(profile, device, data, cache=store.cache)
    ref = reference.seconds
    todo, too_long = split_by_length(todo, reference.device_seconds, len(data.test), max_run_hours)
    todo = todo[:limit]
    workers = max(1, min(workers or default_workers(device), len(todo) or 1))
    print(f"campaign '{profile}' on {device} ({workers} run(s) at a time), budget {_hours(hours * 3600)}")
    print(reference.line)
    print(status_table(entries, ref, len(data.test)))
    if too_long:
        print(f"left for a faster machine: {len(too_long)} run(s) estimated at more than "
              f"{_hours(max_run_hours * 3600)} here (--max-run-hours), first "
              f"{too_long[0].config.run_id}")
    if not todo:
        print("nothing to train")
        return entries
    lanes = [0.0] * workers  # greedy: each run goes to the lane that is free first
    fits = 0
    for e in todo:
        i = lanes.index(min(lanes))
        lanes[i] += estimated_seconds(e.config, e.iterations_left, ref, len(data.test))
        fits += lanes[i] <= hours * 3600
    print(f"estimate: {fits} of {len(todo)} unfinished runs can finish within the budget; "
          "the rest are checkpointed where the budget ends", flush=True)

    stop = multiprocessing.get_context("spawn").Event()  # the workers' context (launch.py)
    deadline = time.time() + hours * 3600
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    threads = threads_per_worker(device, workers)
    try:
        with process_pool(workers, _init_worker, (stop, deadline, threads)) as pool:
            futures = [pool.submit(_train_one, str(store.root), str(store.cache), e.config.to_dict(),
                                   str(data.root), device_for(device, i))
                       for i, e in enumerate(todo)]
            for f in as_completed(futures):
                r = f.result()
                if r["result"] != "not started":  # finished; or stopped: budget, SIGTERM, Ctrl-C
                    print(f"  {describe_outcome(r)}", flush=True)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    for e in todo:
        path = store.save_partial(e.config)
        if path is not None:
            print(f"  partial record: {path}")
    after = status(store, plan(profile))
    print(status_table(after, ref, len(data.test)))
    return after


def submit(profile: str, executor: str, settings, data_dir: str | None = None,
           limit: int | None = None, wait: bool = False,
           only: list[str] | None = None) -> list[Entry]:
    """The campaign on a cluster (cluster.py): submit one job per unfinished run of the profile,
    in priority order, skipping runs whose job is queued or running; with `wait`, wait for the
    jobs (the tests, `--executor submitit-local`). Returns the status afterwards."""
    from . import cluster
    from .data import find_data_dir

    store = RunStore.for_profile(profile)
    data_root = find_data_dir(data_dir)
    if data_root is None:
        raise FileNotFoundError("no CIFAR-10 folder found (RESNET_LIB_DATA or --data-dir)")
    entries = _tidy_status(store, profile)
    print(f"campaign '{profile}' through submitit ({executor}): {cluster.settings_summary(settings)}")
    print(status_table(entries))
    todo = [e.config for e in unfinished(entries, only)
            if e.state in ("partial", "missing")][:limit]
    jobs = cluster.submit(store, todo, str(data_root), executor, settings, profile)
    if wait:
        for job in jobs:
            print(f"  {describe_outcome(job.result())}", flush=True)
    after = status(store, plan(profile))
    print(status_table(after))
    return after


def _print_lines_to_a_pipe(lines: list[str]) -> int:
    """Print lines for a reader that may stop early (`--todo | head`): a closed pipe ends the
    command quietly, as the Python docs' SIGPIPE note recommends, not with a traceback."""
    try:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit flush too
    return 0


def main(argv=None) -> int:
    from .cluster import EXECUTORS, ClusterSettings

    ap = argparse.ArgumentParser(prog="python -m resnet_lib.campaign", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--executor", choices=EXECUTORS, default="local",
                    help="local: processes on this machine for --hours (default); slurm: one "
                         "submitit job per run; submitit-local: the same jobs as local processes")
    ap.add_argument("--hours", type=float, default=None,
                    help="time budget (required to train with --executor local)")
    ap.add_argument("--workers", type=int, default=None,
                    help="runs at once (default: one per core on a CPU; on a GPU, what make bench "
                         "measured best, else %d)" % RUNS_PER_GPU)
    ap.add_argument("--limit", type=int, default=None, help="train at most this many runs")
    ap.add_argument("--max-run-hours", type=float, default=None, metavar="H",
                    help="skip runs estimated to take more than H hours on this device, leaving "
                         "them to a faster one (e.g. ResNet-110 on a CPU); on a host that other "
                         "work keeps busy, judged with its recorded idle step")
    ap.add_argument("--only", nargs="+", metavar="RUN_ID", default=None,
                    help="train only these runs (in priority order): e.g. the output of --todo "
                         "on a machine that has not got the finished runs")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--status", action="store_true", help="show where each run stands and exit")
    ap.add_argument("--todo", action="store_true",
                    help="print the unfinished run ids, most important first, one a line, and exit")
    d = ClusterSettings()
    g = ap.add_argument_group("cluster jobs (--executor slurm or submitit-local)")
    g.add_argument("--partition", default=d.partition, help="Slurm partition")
    g.add_argument("--account", default=d.account, help="Slurm account")
    g.add_argument("--time-min", type=int, default=d.time_min,
                   help="time limit of each job, minutes; a job out of time checkpoints and is "
                        "requeued (default %(default)s)")
    g.add_argument("--gpus-per-job", type=int, default=d.gpus_per_job, help="(default %(default)s)")
    g.add_argument("--cpus-per-job", type=int, default=d.cpus_per_job, help="(default %(default)s)")
    g.add_argument("--mem-gb", type=int, default=d.mem_gb)
    g.add_argument("--array-parallelism", type=int, default=d.array_parallelism,
                   help="jobs of the array running at once (default %(default)s)")
    g.add_argument("--max-requeues", type=int, default=d.max_requeues, help="(default %(default)s)")
    g.add_argument("--wait", action="store_true", help="wait for the submitted jobs to end")
    args = ap.parse_args(argv)
    if args.todo:
        ids = [e.config.run_id for e in unfinished(
            status(RunStore.for_profile(args.profile), plan(args.profile)), limit=args.limit)]
        return _print_lines_to_a_pipe(ids)
    if args.status:
        from .data import find_data_dir, load_cifar10

        store = RunStore.for_profile(args.profile)
        entries = status(store, plan(args.profile))
        ref = None
        if find_data_dir(args.data_dir) is not None:
            reference = timed_reference_step(
                args.profile, default_device(), load_cifar10(args.data_dir, download_if_missing=False),
                cache=store.cache)
            ref = reference.seconds
            print(reference.line)
        print(status_table(entries, ref))
        gpu = recorded_gpu_step()
        if gpu is not None and default_device().type != "cuda":
            left = sum(estimated_seconds(e.config, e.iterations_left, gpu[0], 10_000) for e in entries)
            print(f"on one {gpu[1]} (its ResNet-20 step as `make bench` measured it, "
                  f"{gpu[0] * 1e3:.2f} ms): about {_hours(left)} to go, one run at a time")
        return 0
    if args.executor != "local":
        if args.max_run_hours is not None:
            ap.error("--max-run-hours is for --executor local (a cluster job has its own time limit)")
        settings = ClusterSettings(args.partition, args.account, args.time_min, args.gpus_per_job,
                                   args.cpus_per_job, args.array_parallelism, args.max_requeues,
                                   mem_gb=args.mem_gb)
        try:
            submit(args.profile, args.executor, settings, args.data_dir, args.limit, args.wait,
                   only=args.only)
        except (FileNotFoundError, UnknownRunIds) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    if args.hours is None or not math.isfinite(args.hours) or args.hours <= 0:
        ap.error("--hours must be a positive number with --executor local (or use --status)")
    if args.max_run_hours is not None and not args.max_run_hours > 0:
        ap.error("--max-run-hours must be a positive number")
    try:
        run(args.profile, args.hours, args.workers, data_dir=args.data_dir, limit=args.limit,
            only=args.only, max_run_hours=args.max_run_hours)
    except UnknownRunIds as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
