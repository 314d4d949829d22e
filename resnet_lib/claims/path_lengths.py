"""Claim 6 (Veit, Wilber, Belongie 2016, sec. 6, Fig. 6): in a trained ResNet the gradient comes
from short paths. Of the 2^n paths, path length is Binomial(n, 1/2); the gradient through a path
falls fast with its length, so the total gradient per length (count x mean gradient) peaks far
below n/2. Uses notebook 01's ResNet."""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import numpy as np

from ..analysis import paths
from ..analysis.device import analysis_device, exact_fp32, prepared
from ..rowlog import NoLog
from ..stats import mean_interval
from . import plain_vs_residual

if TYPE_CHECKING:  # for annotations only: the functions that build tables import pandas
    import pandas as pd

ANALYSIS_VERSION = 1
PAPER_RANGE = (5, 17)      # Veit et al.: most gradient from paths of 5-17 of 54 units
PAPER_UNITS = 54
SHARE = 0.9                # the effective range holds this share of the total gradient
PAPER_HEADLINE = ("almost all gradient comes from paths of 5-17 of ResNet-110's 54 units, 0.45% "
                  "of all paths (Veit et al. 2016, Fig. 6)")
# Parameters of notebook 06 per profile (claims/__init__.py). cpu: 10 batches of 100 test images
# (18 s each on a 2-core CPU); 3 before 2026-11-26.
# paper: ResNet-56 until the campaign has trained ResNet-110 (issue 9).
DEFAULTS = {"paper": dict(depth=56, seed=0, batches=10, batch_size=100, samples=20),
            "cpu": dict(depth=56, seed=0, batches=10, batch_size=100, samples=6),
            "smoke": dict(depth=14, seed=0, batches=2, batch_size=20, samples=3)}
NOTES = {"cpu": ("ResNet-56 (27 units) instead of ResNet-110 (54 units); 6 sets of units per path "
                 "length and batch (paper profile: 20)",),
         "paper": ("ResNet-56 (27 units) instead of ResNet-110 (54 units) until the campaign has "
                   "trained ResNet-110",)}
# "Short" paths: the effective range ends below n/2, where most paths are (path length is
# Binomial(n, 1/2)); judged on the pooled estimate and on every batch of test images, since
# with few unit sets per length one batch's histogram is noisy (issue 10).


def configs(profile: str, depth: int, seed: int):
    """The ResNet of claim 1 at `depth` (a one-element list)."""
    return [c for c in plain_vs_residual.configs(profile, [depth], [seed]) if c.model == "resnet"]


def analysed_runs(ctx, data) -> list:
    """The net notebook 06 analyses (`ctx`: its notebook.setup), required."""
    return ctx.runs(configs(ctx.profile, ctx.depth, ctx.seed), data=data, require_all=True)


def tables(ctx, runs, data) -> tuple["pd.DataFrame"]:
    """(gradient norms by path length,): computed once (on the analysis device; batch by batch,
    resuming after a kill), then read from the notebook's results folder while the run, data,
    parameters and analysis version stay the same. Notebook 06 and `python -m resnet_lib.tables`
    call this."""
    from ..notebook import analysis_key

    key = analysis_key(runs, data, ANALYSIS_VERSION, **ctx.params)
    device = analysis_device()
    return (ctx.cached_table("gradients.csv", key, lambda log: measure(
        runs[0], data, ctx.batches, ctx.batch_size, ctx.samples, device=device, log=log),
        device, resumable=True),)


def measure(run, data, batches: int, batch_size: int, samples: int, seed: int = 0,
            device=None, log=NoLog()) -> "pd.DataFrame":
    """Gradient norm at the first unit's input through exactly k branches, for every k, on
    `batches` batches of test images; one row per (batch, k, set of units). On `device`, else
    the analysis device (the GPU where there is one), in exact fp32. A batch whose rows `log`
    (rowlog.RowLog) holds is read back, not computed again."""
    import pandas as pd

    model, x, y = prepared(run, data, device, limit=batches * batch_size)
    n = len(model.blocks)
    rng = random.Random(seed)
    rows = []
    for b in range(batches):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        if sl.start >= len(x):
            break
        sets = paths.unit_sets(n, range(n + 1), samples, rng)  # drawn even for a logged batch

        def batch_rows():
            with exact_fp32():
                cache = paths.forward_cache(model, x[sl], y[sl])
                return [{"batch": b, **row} for row in paths.gradient_norms(cache, sets)]

        rows += log.row(b, batch_rows)
    return pd.DataFrame(rows)


def by_length(grads) -> "pd.DataFrame":
    """Per path length k: number of paths, mean gradient norm (over batches and sets) with its
    spread over batches, and total contribution = paths x mean gradient (and its share)."""
    n = int(grads["k"].max())
    per_batch = grads.groupby(["k", "batch"])["grad_norm"].mean().unstack("batch")
    out = per_batch.mean(axis=1).rename("mean_grad_norm").to_frame()
    out["grad_norm_sd_over_batches"] = per_batch.std(axis=1, ddof=1) if per_batch.shape[1] > 1 else np.nan
    out["paths"] = [math.comb(n, k) for k in out.index]
    out["path_share"] = out["paths"] / 2 ** n
    out["contribution"] = out["paths"] * out["mean_grad_norm"]
    out["contribution_share"] = out["contribution"] / out["contribution"].sum()
    return out.reset_index()


def verdict(grads) -> dict:
    """(1) Does the gradient per path fall with length? Slope of log mean gradient on k, per
    batch, with a t interval over batches. (2) Where does most of the gradient come from: the
    shortest range of lengths holding 90% of the total contribution, against the paper's 5-17 of
    54 units and against the lengths where most paths are (around n/2)."""
    table = by_length(grads)
    n = int(table["k"].max())
    per_batch = grads.groupby(["batch", "k"])["grad_norm"].mean().reset_index()
    slopes = [np.polyfit(g["k"], np.log(g["grad_norm"]), 1)[0] for _, g in per_batch.groupby("batch")]
    slope, ci = mean_interval(slopes)
    ci = ci or (np.nan, np.nan)
    lo, hi = paths.effective_range(table["contribution"].to_numpy(), SHARE)
    paths_lo, paths_hi = paths.effective_range(table["paths"].to_numpy(dtype=float), 0.95)
    path_share = float(table.loc[(table["k"] >= lo) & (table["k"] <= hi), "path_share"].sum())
    peak = int(table.loc[table["contribution"].idxmax(), "k"])
    scaled = (PAPER_RANGE[0] * n / PAPER_UNITS, PAPER_RANGE[1] * n / PAPER_UNITS)
    falls = bool(ci[1] < 0) if not np.isnan(ci[1]) else slope < 0
    short = hi < n / 2
    out = {"units": n, "log_grad_slope_per_unit": slope, "slope_ci95": ci,
           "factor_per_unit": float(np.exp(slope)), "gradient_falls_with_length": falls,
           "effective_range": (lo, hi), "effective_share": SHARE, "peak_length": peak,
           "paths_in_effective_range_share": path_share, "paths_95pct_range": (paths_lo, paths_hi),
           "paper_range_scaled": scaled, "gradient_from_short_paths": bool(short)}
    # The same range from each batch alone: its spread says how stable the pooled range is.
    ranges = []
    for _, g in grads.groupby("batch"):
        b = by_length(g.assign(batch=0))
        ranges.append(paths.effective_range(b["contribution"].to_numpy(), SHARE))
    his = [r[1] for r in ranges]
    los = [r[0] for r in ranges]
    short_batches = sum(h < n / 2 for h in his)
    out["per_batch_ranges"] = ranges
    out["per_batch_range_spread"] = {"lo": (min(los), max(los)), "hi": (min(his), max(his))}
    out["short_in_batches"] = [short_batches, len(ranges)]
    out["gradient_from_short_paths"] = bool(short and short_batches == len(ranges))
    short = out["gradient_from_short_paths"]
    out["text"] = "\n".join([
        f"Gradient per path falls by a factor {np.exp(slope):.2f} per extra unit on its path "
        f"(log slope {slope:.3f}, 95% CI {ci[0]:.3f} to {ci[1]:.3f} over batches) - "
        + ("falls with length, as the paper." if falls else "does not fall clearly."),
        f"{SHARE:.0%} of the total gradient comes from paths of {lo}-{hi} of {n} units (peak at {peak}), "
        f"which are {path_share:.2%} of all paths; 95% of paths have {paths_lo}-{paths_hi} units. "
        f"The paper: 5-17 of 54 (scaled to {n} units: {scaled[0]:.1f}-{scaled[1]:.1f}). "
        f"Each of the {len(ranges)} batches alone: the range starts at {min(los)}-{max(los)} and "
        f"ends at {min(his)}-{max(his)} units, below {n / 2:g} in {short_batches} - "
        + ("the gradient comes from short paths, as the paper." if short else
           "not concentrated on short paths in every batch."),
    ])
    return out


# The report's summary (claims/__init__.py): from the notebook's verdict, never by hand.

def headline(record: dict, folder) -> str:
    """Ours, parallel to PAPER_HEADLINE: the lengths that hold 90% of the gradient and their
    share of all paths."""
    v, depth = record["verdict"], record["parameters"]["depth"]
    units = v.get("units", (depth - 2) // 2)
    lo, hi = v["effective_range"]
    return (f"{v['effective_share']:.0%} of the gradient comes from paths of {lo}-{hi} of "
            f"ResNet-{depth}'s {units} units, {v['paths_in_effective_range_share']:.2%} of all "
            f"paths; x{v['factor_per_unit']:.2f} per extra unit on a path")


def in_brief(record: dict) -> str:
    v = record["verdict"]
    return (f"gradient falls with path length: {'as the paper' if v['gradient_falls_with_length'] else 'no'}; "
            f"comes from short paths (every batch): "
            f"{'as the paper' if v['gradient_from_short_paths'] else 'no'}")
