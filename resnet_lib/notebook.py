"""What every claim notebook does around its own analysis: resolve its parameters against the
profile, say how the profile departs from the paper, and save its results under fixed names."""

from __future__ import annotations

import json
import os

import torch
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .data import REPO_ROOT
from .models import units_per_stage
from .provenance import code_version, device_name
from .profiles import describe, deviations, get_profile
from .store import RESULTS_DIR, RunStore

FIGURES_DIR = Path(os.environ.get("RESNET_LIB_FIGURES", REPO_ROOT / "figures"))


def analysis_key(runs, data, version, **params) -> dict:
    """What an analysis table depends on, for `NotebookContext.cached_table`: the runs and their
    final weights (retraining keeps a run's id but changes its weights), the data files, the
    analysis code's version and the analysis parameters."""
    return {"runs": {r.config.run_id: r.weights_sha256 for r in runs}, "data": data.file_sha256,
            "version": version, **params}


@dataclass
class NotebookContext:
    """A notebook's resolved parameters and where its outputs go."""

    name: str                 # e.g. "01_plain_vs_residual"
    profile: str
    params: dict
    store: RunStore
    results_dir: Path         # results/<profile>/<name>/
    figures_dir: Path         # figures/<profile>/
    float_format: str = "%.4g"

    def __getattr__(self, key):  # ctx.depths, ctx.seeds, ...
        try:
            return self.__dict__["params"][key]
        except KeyError:
            raise AttributeError(key) from None

    def figure_path(self, suffix: str = "") -> Path:
        return self.figures_dir / f"{self.name}{suffix}.png"

    def save_table(self, filename: str, df) -> Path:
        path = self.results_dir / filename
        atomic.write_text(path, df.to_csv(index=False, float_format=self.float_format))
        return path

    def cached_table(self, filename: str, key: dict, compute):
        """The table `compute()` returns, saved as `filename`; computed again only when `key`
        (what it depends on: run ids, analysis parameters, analysis version) changes, or when
        retraining is requested. So replotting and re-reading never recompute."""
        import pandas as pd

        from .store import retrain_requested

        path, key_path = self.results_dir / filename, self.results_dir / f"{filename}.key.json"
        key = json.loads(json.dumps(key, sort_keys=True, default=str))
        if path.exists() and key_path.exists() and not retrain_requested():
            if json.loads(key_path.read_text()) == key:
                print(f"{filename}: reused (delete it, or set RESNET_LIB_RETRAIN=1, to recompute)")
                return pd.read_csv(path)
        df = compute()
        self.save_table(filename, df)
        atomic.write_json(key_path, key)
        return pd.read_csv(path)  # what was saved, so a fresh and a reused run read the same

    def save_json(self, filename: str, obj, runs=()) -> Path:
        """Save `obj` with the profile, its deviations and the provenance of `runs` beside it."""
        record = {"notebook": self.name, "profile": self.profile, "parameters": self.params,
                  "deviations_from_paper": deviations(self.profile),
                  "compute": _compute(runs),
                  # the code that computed this record (the runs' own code is under "runs")
                  "analysis_code": {**code_version(), "device_name": device_name(torch.device("cpu"))},
                  "runs": {r.config.run_id: _provenance(r) for r in runs}, **obj}
        path = self.results_dir / filename
        atomic.write_json(path, record)
        return path


def _compute(runs) -> dict:
    """What the runs cost: seconds in training steps, and wall seconds of the sessions that
    trained them (parallel workers overlap, so wall time of the notebook is less than the sum)."""
    return {"runs": len(runs),
            "train_seconds_sum": round(sum(r.summary["train_seconds"] for r in runs), 1),
            "wall_seconds_sum": round(sum(r.summary.get("wall_seconds_last_session", 0)
                                          for r in runs), 1),
            "devices": sorted({r.environment.get("device_name", "?") for r in runs})}


def _provenance(run) -> dict:
    e = run.environment
    return {k: e.get(k) for k in ("git_commit", "git_dirty", "code_sha256", "torch",
                                  "device_name", "data_sha256")}


def setup(name: str, profile: str, **params) -> NotebookContext:
    """Resolve parameters left as None from the profile's defaults for this notebook, check
    them, and print the profile's deviations from the paper."""
    p = get_profile(profile)
    defaults = p.notebooks.get(name.split("_")[0], {})
    resolved = {k: (defaults.get(k) if v is None else v) for k, v in params.items()}
    for depth in (resolved.get("depths") or []) + ([resolved["depth"]] if resolved.get("depth") else []):
        units_per_stage(depth)  # ValueError for a depth not of the form 6n+2
    if "seeds" in resolved and not resolved["seeds"]:
        raise ValueError("seeds must name at least one seed")
    print(describe(p))
    print("Parameters: " + ", ".join(f"{k}={v!r}" for k, v in resolved.items()))
    return NotebookContext(name, profile, resolved, RunStore.for_profile(profile),
                           RESULTS_DIR / profile / name, FIGURES_DIR / profile)
