"""What every claim notebook does around its own analysis: resolve its parameters against the
profile, say how the profile departs from the paper, and save its results under fixed names."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time

import torch
from dataclasses import dataclass, field
from pathlib import Path

from . import atomic, claims
from .data import REPO_ROOT
from .models import units_per_stage
from .provenance import code_version, computed_with, device_name
from .profiles import describe, deviations, get_profile
from .store import RESULTS_DIR, RunsNotComplete, RunStore, last_test_text

FIGURES_DIR = Path(os.environ.get("RESNET_LIB_FIGURES", REPO_ROOT / "figures"))

# A notebook run whose parameters narrow or change what it analyses (other depths, seeds, ...)
# writes under results/<profile>/overrides/<scope>/ and figures/<profile>/overrides/<scope>/,
# never over the profile's report. Where data and runs come from does not change the scope.
OVERRIDES = "overrides"
_SCOPE_FREE = ("profile", "data_dir", "train_missing")


# Set by the report while it executes a notebook: the notebook writes its figures and tables
# under this folder, and the report publishes them only when every cell has succeeded
# (report.publish_staged). A notebook run by hand (JupyterLab) writes in place.
STAGE_ENV = "RESNET_LIB_STAGE"
# The stage's sub-folders and the folders they are published to.
STAGED_ROOTS = (("results", RESULTS_DIR), ("figures", FIGURES_DIR))


def staged(path: Path) -> Path:
    """Where a notebook writes `path` (under the results or figures folder): the path itself,
    or its mirror under the stage folder while the report executes the notebook."""
    stage = os.environ.get(STAGE_ENV)
    if not stage:
        return path
    for kind, root in STAGED_ROOTS:
        if path.resolve().is_relative_to(root.resolve()):
            return Path(stage) / kind / path.resolve().relative_to(root.resolve())
    return path


def override_scope(name: str, profile: str, params: dict) -> str | None:
    """None when `params` (None meaning "the default") are the profile's defaults for notebook
    `name`; otherwise a folder name that says which differ, e.g. "depths=20,32+seeds=0"."""
    defaults = claims.defaults(name, profile)
    changed = {k: v for k, v in params.items()
               if k not in _SCOPE_FREE and v is not None and v != defaults.get(k)}
    if not changed:
        return None

    def text(v) -> str:
        return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)

    scope = "+".join(f"{k}={text(v)}" for k, v in sorted(changed.items()))
    scope = re.sub(r"[^A-Za-z0-9._,=+-]", "_", scope)
    if len(scope) > 80:  # a long list of overrides: a readable start and a hash of the whole
        scope = f"{scope[:60]}-{hashlib.sha256(scope.encode()).hexdigest()[:10]}"
    return scope


def output_dirs(name: str, profile: str, scope: str | None) -> tuple[Path, Path]:
    """(results folder, figures folder) of notebook `name` under `profile` and `scope`."""
    results, figures = RESULTS_DIR / profile, FIGURES_DIR / profile
    if scope is not None:
        results, figures = results / OVERRIDES / scope, figures / OVERRIDES / scope
    return results / name, figures


def analysis_key(runs, data, version, **params) -> dict:
    """What an analysis table depends on, for `NotebookContext.cached_table`: the runs and their
    final weights (retraining keeps a run's id but changes its weights), the images and labels
    (their content's sha256, the same for every copy however it is pickled: a table computed on
    a GPU machine's re-pickled copy, shared/gpu-data, is recognised here), the analysis code's
    version and the analysis parameters."""
    params = {k: v for k, v in params.items() if k != "train_missing"}  # where runs came from
    return {"runs": {r.config.run_id: r.weights_sha256 for r in runs}, "data": data.content_sha256,
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
    completeness: list | None = None  # set by runs() when the notebook does not train
    # Where each cached table was computed (its .computed.json), for the verdict record.
    tables: dict = field(default_factory=dict)

    def runs(self, configs, data=None, require_all: bool = False) -> list:
        """The notebook's runs. Where the notebook trains (`train_missing`: the smoke and cpu
        profiles' default), every run, trained if missing. Otherwise (the paper profile, whose
        runs `make campaign` trains) the complete ones stored so far, after a table of which
        runs are complete, partial (at what iteration) or missing, also saved as
        completeness.csv and in every record of save_json. RunsNotComplete if none is complete,
        or, with `require_all` (an analysis of one particular net), if any is not."""
        if self.params.get("train_missing", True):
            return self.store.get_many(configs, data)
        from .campaign import status

        entries = status(self.store, [(self.name[:2], c) for c in configs])
        self.completeness = [{"run_id": e.config.run_id, "state": e.state,
                              "iteration": e.iteration, "iterations": e.config.recipe.iterations,
                              "last_test_error": (e.last_test or {}).get("error"),
                              "last_test_iteration": (e.last_test or {}).get("iteration")}
                             for e in entries]
        self.save_table("completeness.csv", completeness_frame(self.completeness))
        table = results_path(self.results_dir / "completeness.csv")
        print(completeness_text(self.completeness, table))
        done = [e.config for e in entries if e.state == "done"]
        waiting = [e for e in entries if e.state != "done"]
        if waiting and (require_all or not done):
            raise RunsNotComplete(self._not_complete_message(configs, waiting))
        return self.store.get_many(done, data)

    def _not_complete_message(self, configs, waiting, named: int = 3) -> str:
        """Which runs the notebook analyses and which are not complete (state, iteration), the
        furthest along first: by name where they are few, the first `named` and a count where
        they are many."""
        waiting = sorted(waiting, key=lambda e: -e.iteration)
        what = (", ".join(c.run_id for c in configs) if len(configs) <= named
                else f"{len(configs)} runs")
        shown = ", ".join(f"{e.config.run_id} ({e.state}, {e.iteration:,} of "
                          f"{e.config.recipe.iterations:,} iterations)" for e in waiting[:named])
        more = f" and {len(waiting) - named} more" if len(waiting) > named else ""
        return (f"{self.name} analyses {what} under profile '{self.profile}'; not complete yet: "
                f"{shown}{more}. `make campaign PROFILE={self.profile} HOURS=...` trains them "
                "(or pass train_missing=True to train them here)")

    def __getattr__(self, key):  # ctx.depths, ctx.seeds, ...
        try:
            return self.__dict__["params"][key]
        except KeyError:
            raise AttributeError(key) from None

    def figure_path(self, suffix: str = "") -> Path:
        return staged(self.figures_dir / f"{self.name}{suffix}.png")

    def save_table(self, filename: str, df) -> Path:
        path = staged(self.results_dir / filename)
        atomic.write_text(path, df.to_csv(index=False, float_format=self.float_format))
        return path

    def cached_table(self, filename: str, key: dict, compute, device: torch.device | None = None,
                     resumable: bool = False):
        """The table `compute()` returns, saved as `filename`; computed again only when `key`
        (what it depends on: run ids, analysis parameters, analysis version) changes, or when
        retraining is requested. So replotting and re-reading never recompute. Beside it,
        `<filename>.computed.json` says where and when it was computed (`device`: where
        `compute` runs, the CPU if not given), and the verdict record repeats that.
        `resumable`: `compute(log)` gets a rowlog.RowLog for this key, through which it computes
        row by row; killed part way, it resumes from the rows logged."""
        import pandas as pd

        from .store import retrain_requested

        key = json.loads(json.dumps(key, sort_keys=True, default=str))
        for path in dict.fromkeys((staged(self.results_dir / filename), self.results_dir / filename)):
            key_path = path.with_name(f"{filename}.key.json")
            if path.exists() and key_path.exists() and not retrain_requested():
                if json.loads(key_path.read_text()) == key:
                    # nothing printed: an executed notebook reads the same whether it reused or not
                    self._note_table(filename, path)
                    return pd.read_csv(path)
        t0 = time.perf_counter()
        log = None
        if resumable:
            from .rowlog import RowLog

            log = RowLog(self._row_log_path(filename), key)
            df = compute(log)
        else:
            df = compute()
        path = self.save_table(filename, df)
        atomic.write_json(path.with_name(f"{filename}.computed.json"), computed_with(
            device or torch.device("cpu"),
            seconds=round(time.perf_counter() - t0, 1),  # this last part's, where resumed
            **({"rows_resumed": log.resumed} if log is not None and log.resumed else {})))
        atomic.write_json(path.with_name(f"{filename}.key.json"), key)
        if log is not None:
            log.remove()
        self._note_table(filename, path)
        return pd.read_csv(path)  # what was saved, so a fresh and a reused run read the same

    def _row_log_path(self, filename: str) -> Path:
        """Where the rows of `filename` are logged while it is computed: beside the profile's
        partial runs, results/<profile>/partial/tables/<notebook>/, so that a table left part
        way is committed with them and continues on the next machine or in the next checkout
        (a fresh clone has no .cache)."""
        notebook = self.results_dir.relative_to(self.store.partial_root.parent)  # [overrides/<scope>/]<name>
        return self.store.partial_root / "tables" / notebook / f"{filename}.rows.jsonl"

    def _note_table(self, filename: str, path: Path) -> None:
        """Keep where the table at `path` was computed (tables from before 2026-11-27 say nothing)."""
        computed = path.with_name(f"{filename}.computed.json")
        if computed.exists():
            self.tables[filename] = json.loads(computed.read_text())

    def save_json(self, filename: str, obj, runs=()) -> Path:
        """Save `obj` with the profile, its deviations and the provenance of `runs` beside it."""
        record = {"notebook": self.name, "profile": self.profile, "parameters": self.params,
                  "deviations_from_paper": deviations(self.profile, claims.notes(self.name, self.profile)),
                  "compute": _compute(runs),
                  # the code that computed this record (the runs' own code is under "runs")
                  "analysis_code": {**code_version(), "device_name": device_name(torch.device("cpu"))},
                  "runs": {r.config.run_id: _provenance(r) for r in runs}, **obj}
        if self.completeness is not None:
            record["completeness"] = self.completeness
        if self.tables:
            record["analysis_tables"] = self.tables  # where each costly table was computed
        path = self.results_dir / filename
        if not _differs_beyond_analysis_code(path, record):
            return path  # the same result computed again elsewhere: the file stays as it is
        path = staged(path)
        atomic.write_json(path, record)
        return path


def _differs_beyond_analysis_code(path: Path, record: dict) -> bool:
    """True unless `path` holds this record already, up to where it was last computed
    (analysis_code: commit, code hash, device). So regenerating unchanged results on another
    host or commit leaves the committed file, and git status, unchanged."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return True
    new = json.loads(json.dumps(record, default=str))
    old.pop("analysis_code", None)
    new.pop("analysis_code", None)
    return old != new


def results_path(path: Path) -> Path:
    """`path` (under the results folder) as a reader of the repository names it:
    results/<profile>/..., wherever RESNET_LIB_RESULTS put the folder on this machine."""
    try:
        return Path("results") / path.resolve().relative_to(RESULTS_DIR.resolve())
    except ValueError:
        return path


def completeness_frame(rows: list[dict]):
    """completeness.csv's table of `rows` (NotebookContext.runs), its logged iteration an integer
    column (empty where none is logged): as floats, the tables' 4-significant-digit format wrote
    26,000 as 2.6e+04."""
    import pandas as pd

    df = pd.DataFrame(rows)
    return df.astype({"last_test_iteration": "Int64"}) if "last_test_iteration" in df else df


def completeness_text(rows: list[dict], table: Path | str = "completeness.csv",
                      missing_shown: int = 12) -> str:
    """'3 of 30 runs complete, 1 partial, 26 missing', then one line per partial run and per
    run not started, the latter only the first `missing_shown` (a claim 3 campaign has over a
    hundred; the saved `table` lists every one)."""
    n = {s: sum(r["state"] == s for r in rows) for s in ("done", "running", "queued", "partial", "missing")}
    # a campaign live on this machine: its runs are being trained (or wait in its queue) now
    live = "".join(f"{n[s]} {s}, " for s in ("running", "queued") if n[s])
    lines = [f"{n['done']} of {len(rows)} runs of this notebook are complete, {live}{n['partial']} "
             f"partial, {n['missing']} not started; the analysis below uses the complete ones."]
    unfinished = [r for r in rows if r["state"] in ("running", "queued", "partial")]
    unfinished += [r for r in rows if r["state"] == "missing"][:missing_shown]
    for r in unfinished:
        logged = last_test_text({"error": r["last_test_error"], "iteration": r["last_test_iteration"]}
                                if r.get("last_test_error") is not None else None)
        lines.append(f"  {r['state']:<8} {r['iteration']:>7,} of {r['iterations']:,} "
                     f"iterations  {r['run_id']}" + (f"  ({logged}, logged)" if logged else ""))
    if n["missing"] > missing_shown:
        lines.append(f"  and {n['missing'] - missing_shown} more not started "
                     f"({table} lists every run)")
    return "\n".join(lines)


def _compute(runs) -> dict:
    """What the runs cost: seconds in training steps, wall seconds of the sessions that trained
    them (parallel workers overlap, so wall time of the notebook is less than the sum), and the
    devices that trained them."""
    return {"runs": len(runs),
            "train_seconds_sum": round(sum(r.summary["train_seconds"] for r in runs), 1),
            "wall_seconds_sum": round(sum(r.summary.get("wall_seconds_last_session", 0)
                                          for r in runs), 1),
            "devices": sorted({name for r in runs for name in _devices(r)})}


def _devices(run) -> list[str]:
    """Every device that trained a part of the run (a run may continue across machines: its
    segments), else the device of its record."""
    segments = run.summary.get("segments") or []
    return [s["device_name"] for s in segments] or [run.environment.get("device_name", "?")]


def _provenance(run) -> dict:
    e = run.environment
    return {k: e.get(k) for k in ("git_commit", "git_dirty", "code_sha256", "torch",
                                  "device_name", "data_sha256")}


def setup(name: str, profile: str, **params) -> NotebookContext:
    """Resolve parameters left as None from the profile's defaults for this notebook, check
    them, and print the profile's deviations from the paper (the recipe's and the notebook's).
    The defaults are the claim module's (claims.defaults)."""
    p = get_profile(profile)
    defaults = claims.defaults(name, profile)
    resolved = {k: (defaults.get(k) if v is None else v) for k, v in params.items()}
    if resolved.get("train_missing", False) is None:  # the profile decides (Profile.notebooks_train)
        resolved["train_missing"] = p.notebooks_train
    for depth in (resolved.get("depths") or []) + ([resolved["depth"]] if resolved.get("depth") else []):
        units_per_stage(depth)  # ValueError for a depth not of the form 6n+2
    if "seeds" in resolved and not resolved["seeds"]:
        raise ValueError("seeds must name at least one seed")
    import pandas as pd

    pd.set_option("display.max_colwidth", None)  # a table's text (e.g. the paper's source) in full
    print(describe(p, claims.notes(name, profile)))
    print("Parameters: " + ", ".join(f"{k}={v!r}" for k, v in resolved.items()))
    scope = override_scope(name, profile, resolved)
    results_dir, figures_dir = output_dirs(name, profile, scope)
    if scope is not None:
        print(f"These are not the profile's defaults: outputs go to {results_dir} and "
              f"{figures_dir}, not over the '{profile}' report.")
    return NotebookContext(name, profile, resolved, RunStore.for_profile(profile),
                           results_dir, figures_dir)
