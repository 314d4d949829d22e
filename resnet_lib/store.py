"""The run store: one folder per trained config, found again by the config's hash.

    results/<profile>/runs/<run_id>/
        config.json       the RunConfig, whole
        metrics.csv       tidy rows: iteration, epoch, split, loss, error, lr
        summary.json      final errors, wall time, images/s, parameter count
        environment.json  git commit, code hash, torch version, device, data sha256
        model.pt          final weights (state_dict), for the notebooks that analyse them

A run folder appears only when complete: it is written into a hidden staging folder and renamed
into place. Checkpoints of unfinished runs live in the cache (`.cache/checkpoints/` by default,
git-ignored), so a killed notebook picks up where it stopped. `RunStore.get` returns the stored
run when there is one and trains it otherwise; `retrain=True` (or RESNET_LIB_RETRAIN=1) forces
training from scratch.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import shutil
import time
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import torch

from . import atomic, launch
from .config import RunConfig
from .data import REPO_ROOT, TEST_FILE, Cifar10, find_data_dir, load_cifar10, sha256_file
from .locks import RunLock
from .models import create_model
from .provenance import environment
from .train import Trainer, default_device, env_switch

RESULTS_DIR = Path(os.environ.get("RESNET_LIB_RESULTS", REPO_ROOT / "results"))
CACHE_DIR = Path(os.environ.get("RESNET_LIB_CACHE", REPO_ROOT / ".cache"))
METRIC_FIELDS = ("iteration", "epoch", "split", "loss", "error", "lr")


def retrain_requested() -> bool:
    return env_switch("RESNET_LIB_RETRAIN", False)


class RunsNotComplete(RuntimeError):
    """Runs an analysis needs are not complete, and are not to be trained where it runs (the
    paper profile's notebooks use what `make campaign` stored): `make report` says which and
    goes on with the next notebook."""


@dataclass
class Run:
    """A finished run, as stored."""

    config: RunConfig
    dir: Path
    summary: dict
    environment: dict

    @functools.cached_property
    def metrics(self):
        import pandas as pd

        return pd.read_csv(self.dir / "metrics.csv")

    @functools.cached_property
    def weights_sha256(self) -> str:
        """Identifies the trained weights: a run retrained under the same config (same run_id)
        gets new ones, so analyses of it key on this, not on the run_id alone."""
        return sha256_file(self.dir / "model.pt")

    def logged_test(self) -> dict:
        """The final test error logged during training, and the test set it was measured on."""
        return {"error": self.summary["final_error"]["test"],
                "loss": self.summary["final_loss"]["test"],
                "images": self.summary["eval_images"]["test"],
                "test_file_sha256": self.environment["data_sha256"][TEST_FILE],
                "test_content_sha256": (self.environment.get("data_content_sha256") or {}).get("test"),
                "source": "logged during training"}

    def test_results(self) -> list[dict]:
        """Every final test error this run has: the one logged during training, then those of
        later evaluations of its weights (evaluation.py), e.g. on a larger test set."""
        from .evaluation import recorded

        return [self.logged_test()] + [{**r, "source": "evaluated after training"}
                                       for r in recorded(self.dir)]

    @property
    def final_test(self) -> dict:
        """The final test result on the most test images (ties: the latest): error, loss,
        `images` and the test file's sha256, so every table can say which test set it used."""
        return max(reversed(self.test_results()), key=lambda r: r["images"])

    def final_error(self, split: str) -> float:
        """Final error (%) on a split; for "test", on the largest test set it was scored on."""
        return self.final_test["error"] if split == "test" else self.summary["final_error"][split]

    def error_columns(self) -> dict:
        """Final errors for a table row, `<split>_error`, with the number of test images behind
        `test_error` and, where that differs, the test error logged during training."""
        cols = {f"{k}_error": self.final_error(k) for k in self.summary["final_error"]}
        cols["test_images"] = self.final_test["images"]
        logged = self.logged_test()
        if logged["images"] != cols["test_images"]:
            cols["test_error_logged"] = logged["error"]
            cols["test_images_logged"] = logged["images"]
        return cols

    def load_model(self, device: str | torch.device = "cpu") -> torch.nn.Module:
        model = create_model(self.config.model, **self.config.model_options)
        state = torch.load(self.dir / "model.pt", map_location=device, weights_only=True)
        model.load_state_dict(state)
        return model.to(device).eval()


def _metrics_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRIC_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def last_test_text(last_test: dict | None) -> str:
    """A partial record's last logged test error ({"error": %, "iteration": n}, from
    progress.json's last_errors) in words: 'test error 11.48% at 44,000'; '' if none."""
    if not last_test:
        return ""
    return f"test error {last_test['error']:.2f}% at {last_test['iteration']:,}"


class RunStore:
    def __init__(self, root: str | Path, cache: str | Path = CACHE_DIR):
        self.root, self.cache = Path(root), Path(cache)

    @classmethod
    def for_profile(cls, profile: str) -> "RunStore":
        return cls(RESULTS_DIR / profile / "runs")

    def path(self, config: RunConfig) -> Path:
        return self.root / config.run_id

    def checkpoint_path(self, config: RunConfig) -> Path:
        return self.cache / "checkpoints" / f"{config.run_id}.pt"

    def checkpoint_iteration(self, config: RunConfig) -> int | None:
        """How far the local checkpoint of `config` is (None: there is none)."""
        ckpt = self.checkpoint_path(config)
        if not ckpt.exists():
            return None
        return torch.load(ckpt, map_location="cpu", weights_only=True)["iteration"]

    # ------------------------------------------------------------ partial runs, between machines

    @property
    def partial_root(self) -> Path:
        """results/<profile>/partial/: what is unfinished, kept to be committed and continued."""
        return self.root.parent / "partial"

    def partial_dir(self, config: RunConfig) -> Path:
        """Where an unfinished run is kept for another machine to continue:
        results/<profile>/partial/<run_id>/ (checkpoint.pt, config.json, progress.json)."""
        return self.partial_root / config.run_id

    def partial_progress(self, config: RunConfig) -> dict | None:
        """progress.json of the run's partial record (iteration reached, devices), or None."""
        path = self.partial_dir(config) / "progress.json"
        return json.loads(path.read_text()) if path.exists() else None

    def discard_superseded_partial(self, config: RunConfig) -> bool:
        """Delete the run's partial record if the finished run is stored (a record copied in
        from another machine after the run finished here, say); True if one was deleted."""
        if self.partial_progress(config) is None or self.load(config) is None:
            return False
        shutil.rmtree(self.partial_dir(config), ignore_errors=True)
        return True

    def save_partial(self, config: RunConfig) -> Path | None:
        """Keep the local checkpoint of an unfinished run as a partial record that can be
        committed and continued anywhere: weights, momentum, RNG state, iteration, the metrics so
        far, and every device that trained a part. None if there is nothing to keep."""
        ckpt = self.checkpoint_path(config)
        if not ckpt.exists() or self.load(config) is not None:
            return None
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        progress = self.partial_progress(config)
        if progress is not None and progress["iteration"] >= state["iteration"]:
            return self.partial_dir(config)  # the record is already as far along
        last = {}
        for row in state["metrics"]:
            last[row["split"]] = {"iteration": row["iteration"], "error": row["error"]}
        final = self.partial_dir(config)
        staging = atomic.staging_dir(final)
        atomic.write_json(staging / "config.json", config.to_dict())
        atomic.write_json(staging / "progress.json", {
            "run_id": config.run_id, "iteration": state["iteration"],
            "iterations": config.recipe.iterations, "train_seconds": round(state["train_seconds"], 1),
            "last_errors": last, "segments": state.get("segments", [])})
        shutil.copyfile(ckpt, staging / "checkpoint.pt")
        atomic.publish_dir(staging, final)
        return final

    def _adopt_partial(self, config: RunConfig) -> None:
        """Continue from the partial record where it is further along than the local checkpoint
        (it came from another machine): copy it into the cache, where the trainer resumes."""
        progress = self.partial_progress(config)
        if progress is None:
            return
        local = self.checkpoint_iteration(config)
        if local is not None and local >= progress["iteration"]:
            return
        ckpt = self.checkpoint_path(config)
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(ckpt, (self.partial_dir(config) / "checkpoint.pt").read_bytes())
        print(f"{config.run_id}: continuing the partial run at iteration {progress['iteration']:,} "
              f"of {progress['iterations']:,} (trained on "
              f"{', '.join(sorted({s['device_name'] for s in progress['segments']}))})", flush=True)

    RUN_FILES = ("config.json", "summary.json", "environment.json", "metrics.csv", "model.pt")

    def load(self, config: RunConfig) -> Run | None:
        """The stored run, checked: None if it is not stored (or incomplete, which is said, and
        then trained again); a RuntimeError naming the file if a file of it is damaged."""
        d = self.path(config)
        if not d.exists():
            return None
        missing = [f for f in self.RUN_FILES if not (d / f).is_file()]
        if missing:
            print(f"run store: {d} is incomplete (no {', '.join(missing)}): it will be trained "
                  "again, and the new run replaces the folder", flush=True)
            return None
        stored, summary, env = (_read_json(d / f) for f in ("config.json", "summary.json",
                                                            "environment.json"))
        if RunConfig.from_dict(stored).hash != config.hash:
            raise RuntimeError(f"{d} holds a different config than its name says; delete it")
        _check_metrics(d / "metrics.csv", config.recipe.iterations)
        if summary.get("iterations") != config.recipe.iterations:
            raise RuntimeError(f"{d / 'summary.json'} records {summary.get('iterations')} of "
                               f"{config.recipe.iterations} iterations; delete {d} to train the "
                               "run again")
        return Run(config, d, summary, env)

    def all_runs(self) -> list[Run]:
        """Every complete run in the store, in the order of their ids."""
        runs = []
        for d in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if not d.name.startswith(".") and (d / "config.json").exists():
                run = self.load(RunConfig.from_dict(json.loads((d / "config.json").read_text())))
                if run is not None:
                    runs.append(run)
        return runs

    def train(self, config: RunConfig, data: Cifar10, device: torch.device | None = None,
              progress: bool = True, retrain: bool = False, should_stop=None) -> Run:
        """Train (resuming from a checkpoint or a partial record if one exists) and publish the
        run. `should_stop` (see Trainer.run) stops it early with StopTraining, checkpointed.

        One process at a time trains a config: others asking for it wait for the lock beside the
        store (`<store>/.locks/<run_id>.lock`), then find the run stored and reuse it."""
        with self._lock(config):
            if not retrain:
                stored = self.load(config)
                if stored is not None:
                    print(f"{config.run_id}: trained by another process meanwhile; reused", flush=True)
                    return stored
            return self._train_unlocked(config, data, device, progress, retrain, should_stop)

    def is_training(self, config: RunConfig) -> bool:
        """True while some process (a notebook, a campaign, a cluster job on a node that shares
        this folder) holds the run's lock, i.e. is training it."""
        return RunLock(self._lock_path(config)).held_elsewhere()

    def _lock_path(self, config: RunConfig) -> Path:
        return self.root / ".locks" / f"{config.run_id}.lock"

    @contextlib.contextmanager
    def _lock(self, config: RunConfig):
        path = self._lock_path(config)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = RunLock(path)
        if not lock.acquire(blocking=False):
            print(f"{config.run_id}: another process is training it; waiting for it", flush=True)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def _train_unlocked(self, config, data, device, progress, retrain, should_stop) -> Run:
        device = device or default_device()
        ckpt = self.checkpoint_path(config)
        if retrain:
            ckpt.unlink(missing_ok=True)
        else:
            self._adopt_partial(config)
        env = environment(device, data.file_sha256, data.root, data.content_sha256)  # the code as it starts training
        start = time.time()
        result = Trainer(config, data, device=device, checkpoint_path=ckpt,
                         progress=progress).run(should_stop=should_stop)
        summary = {**result.summary, "wall_seconds_last_session": round(time.time() - start, 1)}

        final = self.path(config)
        staging = atomic.staging_dir(final)
        atomic.write_json(staging / "config.json", config.to_dict())
        atomic.write_text(staging / "metrics.csv", _metrics_csv(result.metrics))
        atomic.write_json(staging / "summary.json", summary)
        atomic.write_json(staging / "environment.json", env)
        atomic.torch_save(staging / "model.pt", {k: v.cpu() for k, v in result.model.state_dict().items()})
        published = atomic.publish_dir(staging, final)
        ckpt.unlink(missing_ok=True)
        shutil.rmtree(self.partial_dir(config), ignore_errors=True)  # the finished run supersedes it
        # Not published: another process stored the same config first; that copy stands.
        return Run(config, final, summary, env) if published else self.load(config)

    def get(self, config: RunConfig, data: Cifar10 | str | Path | None = None, retrain: bool | None = None,
            **train_kw) -> Run:
        """The stored run for `config`, training it first if it is not stored (or if retrain)."""
        return self.get_many([config], data, retrain=retrain, workers=1, **train_kw)[0]

    def get_many(self, configs: list[RunConfig], data: Cifar10 | str | Path | None = None,
                 retrain: bool | None = None, workers: int | None = None,
                 device: torch.device | None = None, progress: bool = True) -> list[Run]:
        """Runs for all configs, training the missing ones. `data` is the data set or the folder
        to load it from (None: the default search order of `load_cifar10`).

        Independent runs train in `workers` processes at once (default_workers: on a CPU one per
        core, each single-threaded, which `make bench` compares with one multi-threaded process;
        on CUDA launch.processes_per_gpu() per GPU).
        """
        retrain = retrain_requested() if retrain is None else retrain
        device = device or default_device()
        for line in atomic.remove_leftovers(self.root):  # from writers killed mid-publish
            print(f"run store: {line}", flush=True)
        runs = {c.hash: (None if retrain else self.load(c)) for c in configs}
        # each config once: two processes training one config would share its checkpoint file
        todo = list({c.hash: c for c in configs if runs[c.hash] is None}.values())
        if todo:
            if not isinstance(data, Cifar10):
                data = load_cifar10(data)
                print(data.describe(), flush=True)
            if workers is None:
                workers = launch.default_workers(device)
            workers = max(1, min(workers, len(todo)))
            print(f"training {len(todo)} of {len(configs)} runs "
                  f"({workers} at a time on {device}); {len(configs) - len(todo)} reused", flush=True)
            t0 = time.time()
            for i, run in enumerate(self._train_all(todo, data, device, retrain, workers, progress)):
                runs[run.config.hash] = run
                print(f"  [{i + 1}/{len(todo)}] {run.config.run_id}: "
                      f"{_final_errors(run.summary)} ({(time.time() - t0) / 60:.1f} min so far)",
                      flush=True)
        out = [runs[c.hash] for c in configs]
        self._evaluate_on_current_test_set(out, data, device)
        return out

    @staticmethod
    def _evaluate_on_current_test_set(runs: list[Run], data, device) -> None:
        """Runs stored before the data's test set changed (e.g. trained on the first 1,000 test
        images, before the full 10,000 were here) are scored again on the current one: once,
        recorded in the run's folder (evaluation.py). Without data, they keep what they have."""
        from . import evaluation

        if not isinstance(data, Cifar10):
            if find_data_dir(data) is None:
                print("no CIFAR-10 data found: final test errors as recorded with each run",
                      flush=True)
                return
            data = load_cifar10(data, download_if_missing=False)
        evaluation.evaluate_missing(list({r.config.hash: r for r in runs}.values()), data, device)

    def _train_all(self, todo, data, device, retrain, workers, progress):
        if workers == 1:
            for c in todo:
                yield self.train(c, data, device, progress=progress, retrain=retrain)
            return
        threads = launch.threads_per_worker(device, workers)
        todo = sorted(todo, key=lambda c: -c.depth)  # longest first packs the workers best
        with launch.process_pool(workers) as pool:
            futures = [pool.submit(_train_in_worker, str(self.root), str(self.cache), c.to_dict(),
                                   str(data.root), launch.device_for(device, i), threads, retrain,
                                   progress)
                       for i, c in enumerate(todo)]
            for f in as_completed(futures):
                yield self.load(RunConfig.from_dict(f.result()))


def _train_in_worker(root, cache, config_dict, data_root, device, threads, retrain, progress):
    launch.exit_if_orphaned()  # a queued run handed to a worker whose launcher is gone
    torch.set_num_threads(threads)
    config = RunConfig.from_dict(config_dict)
    try:
        RunStore(root, cache).train(config, load_cifar10(data_root, download_if_missing=False),
                                    torch.device(device), progress=progress, retrain=retrain)
    except KeyboardInterrupt:  # SIGTERM/SIGINT: the trainer has checkpointed
        launch.exit_if_orphaned()
        raise
    return config_dict


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RuntimeError(f"{path} is damaged ({e}); delete {path.parent} to train the run "
                           "again") from e


def _check_metrics(path: Path, iterations: int) -> None:
    """A stored metrics.csv has its header and ends with the run's last iteration: a truncated
    file would otherwise draw a curve that stops early, silently."""
    lines = path.read_text().splitlines()
    if not lines or lines[0].split(",") != list(METRIC_FIELDS):
        raise RuntimeError(f"{path} has no header {','.join(METRIC_FIELDS)}; delete "
                           f"{path.parent} to train the run again")
    last = lines[-1].split(",")[0] if len(lines) > 1 else ""
    if last != str(iterations):
        raise RuntimeError(f"{path} ends at iteration {last or 'none'}, not {iterations}: it is "
                           f"truncated; delete {path.parent} to train the run again")


def _final_errors(summary: dict) -> str:
    return ", ".join(f"{k} {v:.2f}%" for k, v in summary["final_error"].items()
                     if k != "train_running")
