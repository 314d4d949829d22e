"""Claim 5 (Veit, Wilber, Belongie 2016, sec. 4-5): a trained ResNet behaves like an ensemble of
shallower paths. Deleting one unit at test time hurts little (except where it downsamples);
deleting a plain net's layers destroys it; error grows smoothly with the number of units deleted
or swapped. Uses notebook 01's nets."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
import torch

from .. import stats
from ..analysis import lesion
from ..analysis.device import analysis_device, exact_fp32, prepared
from ..rowlog import NoLog
from . import plain_vs_residual

if TYPE_CHECKING:  # for annotations only: the functions that build tables import pandas
    import pandas as pd

ANALYSIS_VERSION = 1
# random_deletions.csv's own version. 2: it records the deleted units and whether one of them
# downsamples, so the smoothness test can leave those draws out.
DELETIONS_VERSION = 2

# Thresholds of the verdict, each with its reason.
# Veit et al. 2016, Fig. 3(a): deleting one non-downsampling block of ResNet-110 causes "no
# noticeable change" (the curve stays at the intact net's ~7%); read as at most 1 point.
NOTICEABLE_POINTS = 1.0
# The plain net is "hurt far more" when its median single-deletion increase is at least this
# many times the ResNet's (with the ResNet's floored at NOTICEABLE_POINTS / 2, so a ResNet that
# is not hurt at all does not make any plain-net increase "far more").
CONTRAST_FACTOR = 3.0
# A downsampling unit "matters more" when its increase exceeds this quantile of the other
# units' increases by more than its own paired sampling noise (1.96 sd).
DOWNSAMPLING_QUANTILE = 0.9
# Smooth growth with k: the mean error rises monotonically (Spearman rho at least RHO_MIN) and
# no deletion adds more than JUMP_SHARE of the total rise: the rise per deleted unit between
# two sampled k is at most that share. Per unit, so a coarse grid of k cannot manufacture a
# jump (the old rule, largest step < 50% of the rise, did: issue 10). Each step's share carries
# the 95% interval of the draws' scatter (which units a draw deletes matters most): a jump is a
# step whose interval lies above JUMP_SHARE, smooth means every step's lies below, and the
# verdict is undecided between (one mean of ten draws at k = 9 had read as a jump under
# `paper`: 30% of the rise, interval 15-46%).
RHO_MIN = 0.9
JUMP_SHARE = 0.25
PAPER_HEADLINE = ("ResNet-110: deleting one unit changes the error unnoticeably except at "
                  "downsampling units; deleting a plain net's layer destroys it; error grows "
                  "smoothly with units deleted or swapped (Veit et al. 2016, Figs. 3-4)")

# Parameters of notebook 05 per profile (claims/__init__.py).
# paper: ResNet-56 until the campaign has trained ResNet-110 and plain-110 (issue 9), with the
# paper's draws and its ranges of k scaled to 27 units (deleting up to 36 of 54, swapping up to 20).
DEFAULTS = {"paper": dict(depth=56, seed=0, delete_ks=list(range(1, 19)), delete_draws=20,
                          swap_ks=list(range(1, 11)), swap_draws=10),
            "cpu": dict(depth=56, seed=0, delete_ks=[1, 2, 3, 5, 7, 9, 12, 15, 18],
                        delete_draws=6, swap_ks=[1, 2, 4, 8, 12], swap_draws=6),
            "smoke": dict(depth=14, seed=0, delete_ks=[1, 2, 3], delete_draws=2, swap_ks=[1, 2],
                          swap_draws=2)}
NOTES = {"cpu": ("ResNet-56 (27 units) instead of ResNet-110 (54 units); 6 random draws per k "
                 "(paper profile: 20)",),
         "paper": ("ResNet-56 (27 units) instead of ResNet-110 (54 units) until the campaign has "
                   "trained ResNet-110 and plain-110; k deleted up to 18 and k swapped up to 10 "
                   "(the paper's 36 and 20 of 54 units, scaled)",)}


def configs(profile: str, depth: int, seed: int):
    """The ResNet and the plain net of claim 1 at `depth`, one seed."""
    return plain_vs_residual.configs(profile, [depth], [seed])


def analysed_runs(ctx, data) -> list:
    """The nets notebook 05 analyses (`ctx`: its notebook.setup), all of them required."""
    return ctx.runs(configs(ctx.profile, ctx.depth, ctx.seed), data=data, require_all=True)


def tables(ctx, runs, data) -> tuple["pd.DataFrame", "pd.DataFrame", "pd.DataFrame"]:
    """(single deletions, random deletions, random swaps): computed once (on the analysis
    device; row by row, resuming after a kill), then read from the notebook's results folder
    while their runs, data, parameters and analysis version stay the same. Notebook 05 and
    `python -m resnet_lib.tables` call this."""
    from ..notebook import analysis_key

    resnet = next(r for r in runs if r.config.model == "resnet")
    key = analysis_key(runs, data, ANALYSIS_VERSION, **ctx.params)
    device = analysis_device()
    single = ctx.cached_table("single_deletions.csv", key, lambda log: single_deletions(
        runs, data, device, log), device, resumable=True)
    deletions = ctx.cached_table(
        "random_deletions.csv", {**key, "version": DELETIONS_VERSION},
        lambda log: random_deletions(resnet, data, ctx.delete_ks, ctx.delete_draws,
                                     device=device, log=log), device, resumable=True)
    swaps = ctx.cached_table("random_swaps.csv", key, lambda log: random_swaps(
        resnet, data, ctx.swap_ks, ctx.swap_draws, device=device, log=log), device, resumable=True)
    return single, deletions, swaps


@torch.no_grad()
def _wrong(model, images, labels, batch_size: int = 500) -> torch.Tensor:
    """Which images `model` (eval mode) gets wrong, as a CPU bool tensor."""
    model.eval()
    with exact_fp32():
        return torch.cat([(model(images[i:i + batch_size]).argmax(1) != labels[i:i + batch_size]).cpu()
                          for i in range(0, len(images), batch_size)])


def _compare(base_wrong: torch.Tensor, wrong: torch.Tensor) -> dict:
    """Error (%) and its change from the intact net, with the sd of the change from the images
    whose verdict flipped (paired on the same test images)."""
    n = len(wrong)
    b = int((wrong & ~base_wrong).sum())   # newly wrong
    c = int((~wrong & base_wrong).sum())   # newly right
    sd = float(np.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n * 100)
    return {"error": 100.0 * float(wrong.float().mean()), "increase": 100.0 * (b - c) / n,
            "increase_sd": sd}


def single_deletions(runs, data, device=None, log=NoLog()) -> "pd.DataFrame":
    """Every unit of each net deleted in turn (plain: the unit's two layers removed, the input
    passed on). On `device`, else the analysis device (the GPU where there is one). Rows that
    `log` (rowlog.RowLog) holds are read back, not computed again."""
    import pandas as pd

    rows = []
    for run in runs:
        model, x, y = prepared(run, data, device)
        base = _wrong(model, x, y)
        down = set(lesion.downsampling_units(model))
        rows.append(log.row(len(rows), lambda: {
            "family": run.config.model, "deleted_unit": -1, "downsampling": False,
            **_compare(base, base)}))
        for i in range(len(model.blocks)):
            rows.append(log.row(len(rows), lambda: {
                "family": run.config.model, "deleted_unit": i, "downsampling": i in down,
                **_compare(base, _wrong(lesion.lesioned(model, [i]), x, y))}))
    return pd.DataFrame(rows)


def random_deletions(run, data, ks: list[int], draws: int, seed: int = 0, device=None,
                     log=NoLog()) -> "pd.DataFrame":
    """Error after deleting k random units, `draws` times per k (every draw made, logged rows
    read back from `log`)."""
    import pandas as pd

    model, x, y = prepared(run, data, device)
    base = _wrong(model, x, y)
    rng = random.Random(seed)
    n = len(model.blocks)
    down = set(lesion.downsampling_units(model))
    rows = []
    for k in ks:
        for d in range(draws):
            deleted = rng.sample(range(n), k)  # drawn even for a logged row: the draws stay in step
            rows.append(log.row(len(rows), lambda: {
                "k": k, "draw": d, "deleted": " ".join(map(str, sorted(deleted))),
                "hits_downsampling": bool(down & set(deleted)),
                **_compare(base, _wrong(lesion.lesioned(model, deleted), x, y))}))
    return pd.DataFrame(rows)


def random_swaps(run, data, ks: list[int], draws: int, seed: int = 0, device=None,
                 log=NoLog()) -> "pd.DataFrame":
    """Error after k random swaps of shape-compatible units, with the order's Kendall tau
    (every draw made, logged rows read back from `log`)."""
    import pandas as pd

    model, x, y = prepared(run, data, device)
    base = _wrong(model, x, y)
    rng = random.Random(seed)
    rows = []
    for k in ks:
        for d in range(draws):
            order = lesion.random_swaps(model, k, rng)  # drawn even for a logged row
            rows.append(log.row(len(rows), lambda: {
                "k": k, "draw": d, "kendall_tau": lesion.kendall_tau(order),
                **_compare(base, _wrong(lesion.reordered(model, order), x, y))}))
    return pd.DataFrame(rows)


def verdict(single, deletions, swaps) -> dict:
    """Computed from the tables, each part against a named threshold (top of this module):
    (1) deleting one non-downsampling ResNet unit barely changes the error (absolute, the
    paper's statement), and hurts far less than deleting a plain net's unit (relative);
    (2) each downsampling unit, on its own, matters more than the other units;
    (3) error grows smoothly with the number k of deleted units, on draws that delete no
    downsampling unit where the table says which did;
    (4) error rises as the order departs from the trained one (Kendall tau falls)."""
    from scipy import stats as st

    out, texts = {}, []
    res = single[(single["family"] == "resnet") & (single["deleted_unit"] >= 0)]
    pla = single[(single["family"] == "plain") & (single["deleted_unit"] >= 0)]
    base = single[single["deleted_unit"] < 0].set_index("family")["error"]
    inner, down = res[~res["downsampling"]], res[res["downsampling"]]
    out["resnet_base_error"], out["plain_base_error"] = float(base["resnet"]), float(base.get("plain", np.nan))
    med = float(inner["increase"].median())
    out["resnet_inner_median_increase"] = med
    out["resnet_inner_significant"] = int((inner["increase"] > 1.96 * inner["increase_sd"]).sum())
    # units whose increase is beyond NOTICEABLE_POINTS by more than their sampling noise
    noticeable = inner[inner["increase"] - 1.96 * inner["increase_sd"] > NOTICEABLE_POINTS]
    out["resnet_inner_noticeable"] = int(len(noticeable))
    out["single_deletion_barely_matters"] = bool(med <= NOTICEABLE_POINTS)
    texts.append(f"Deleting one non-downsampling ResNet unit: median error increase {med:+.1f} "
                 f"points from {base['resnet']:.1f}% ({out['resnet_inner_significant']} of "
                 f"{len(inner)} units beyond 1.96 sd of the paired change, "
                 f"{len(noticeable)} beyond {NOTICEABLE_POINTS:g} point) - "
                 + (f"barely changes the error (median within {NOTICEABLE_POINTS:g} point), as the paper."
                    if out["single_deletion_barely_matters"] else
                    f"a noticeable change (median above {NOTICEABLE_POINTS:g} point), unlike the paper."))
    out["resnet_downsampling_increase"] = down["increase"].tolist()
    if len(pla):
        out["plain_median_increase"] = float(pla["increase"].median())
        out["plain_median_error"] = float(pla["error"].median())
        holds = out["plain_median_increase"] > CONTRAST_FACTOR * max(med, NOTICEABLE_POINTS / 2)
        out["single_deletion_contrast_holds"] = bool(holds)
        texts.append(f"Against the plain net: its median single-deletion increase is "
                     f"{out['plain_median_increase']:+.1f} points (to {out['plain_median_error']:.1f}%, "
                     f"from {base['plain']:.1f}%) - "
                     + (f"more than {CONTRAST_FACTOR:g}x the ResNet's, as the paper." if holds else
                        f"not {CONTRAST_FACTOR:g}x the ResNet's: no clear contrast."))
    if len(down):
        bar = float(inner["increase"].quantile(DOWNSAMPLING_QUANTILE))
        each = {int(u): bool(i - 1.96 * sd > bar)
                for u, i, sd in zip(down["deleted_unit"], down["increase"], down["increase_sd"])}
        out["downsampling_units"] = {str(u): v for u, v in each.items()}
        out["downsampling_bar"] = bar
        out["downsampling_matters_more"] = all(each.values())
        parts = [f"unit {u} {i:+.1f}" + ("" if each[int(u)] else " (not)")
                 for u, i in zip(down["deleted_unit"], down["increase"])]
        texts.append(f"Downsampling units, each against the {DOWNSAMPLING_QUANTILE:.0%} quantile of the "
                     f"other units ({bar:+.1f} points) beyond its own noise: " + ", ".join(parts) + " - "
                     + ("each matters more, as the paper." if out["downsampling_matters_more"] else
                        f"{sum(each.values())} of {len(each)} matter more."))
    curve = judged_draws(deletions)
    if "hits_downsampling" in deletions:
        out["deletions_hitting_downsampling"] = len(deletions) - len(curve)
    out["deletions"] = d = _smoothness(curve, out["resnet_base_error"])
    which = ("draws that delete no downsampling unit" if "hits_downsampling" in deletions
             else "all draws")
    ci = d["largest_step_per_unit_share_ci95"]
    ci_text = f" (95% interval {ci[0]:.0%} to {ci[1]:.0%})" if ci else " (no scatter: one draw per k)"
    rule = f"rho >= {RHO_MIN}, each unit <= {JUMP_SHARE:.0%} of the rise"
    if d["k_range"] is None:
        texts.append("Deleting k random units: no draw to judge"
                     + (" (each deleted a downsampling unit)" if len(deletions) else "")
                     + " - undecided.")
    else:
        texts.append(f"Deleting k random units (k = {d['k_range'][0]}..{d['k_range'][1]}, {which}): "
                     f"mean error rises {d['total_rise']:+.1f} points, Spearman rho {d['spearman_rho']:.2f}, "
                     f"largest rise per deleted unit {d['largest_step_per_unit_share']:.0%} of the total"
                     f"{ci_text} - "
                     + ("smooth, as the paper." if d["smooth"] else
                        f"undecided within the draws' scatter ({rule})." if d["smooth"] is None else
                        f"not smooth by this test ({rule}, beyond the draws' scatter)."))
    if len(swaps):
        r = st.spearmanr(swaps["kendall_tau"], swaps["error"])
        out["swaps"] = {"spearman_rho_tau_error": float(r.statistic), "p": float(r.pvalue)}
        texts.append(f"Swapping units: error vs Kendall tau, Spearman rho {r.statistic:.2f} (p = {r.pvalue:.1g}) - "
                     + ("error grows as the order departs from the trained one, as the paper."
                        if r.statistic < 0 and r.pvalue < 0.05 else "no clear relation."))
    out["text"] = "\n".join(texts)
    return out


def judged_draws(deletions: "pd.DataFrame") -> "pd.DataFrame":
    """The draws whose curve the smoothness part judges: those that spare the downsampling
    units where the table says which (DELETIONS_VERSION 2), else every draw."""
    if "hits_downsampling" not in deletions:
        return deletions
    return deletions[~deletions["hits_downsampling"].astype(bool)]


def deletion_means(deletions: "pd.DataFrame") -> "pd.DataFrame":
    """Mean, sd and number of draws of the error per k: over every draw, and (where the table
    says which) over the draws that spare the downsampling units, the curve the verdict judges."""
    import pandas as pd

    def stats_of(draws):
        return draws.groupby("k")["error"].agg(["mean", "std", "count"])

    parts = {"all draws": stats_of(deletions)}
    if "hits_downsampling" in deletions:
        parts["draws sparing the downsampling units"] = stats_of(judged_draws(deletions))
    return pd.concat(parts, axis=1).round(2)


def _smoothness(curve: "pd.DataFrame", base_error: float) -> dict:
    """How the mean error over draws (`curve`: one row per draw, columns k and error) rises
    with k from the intact net's `base_error` (k = 0): Spearman rho of the means on k, and the
    rise per deleted unit between sampled k as a share of the total rise, each with a 95%
    interval from the draws' scatter (its sd at that k, or pooled over the k where one draw).
    smooth: True (rho >= RHO_MIN, every step's interval below JUMP_SHARE), False (rho below, no
    rise, or a step's interval above JUMP_SHARE) or None (undecided: the intervals allow both)."""
    from scipy import stats as st

    by_k = curve.groupby("k")["error"]
    means, sds, sizes = by_k.mean(), by_k.std(ddof=1), by_k.count()
    if means.empty:  # e.g. every draw deleted a downsampling unit
        return {"spearman_rho": np.nan, "total_rise": np.nan, "k_range": None,
                "largest_step_per_unit_share": np.nan, "largest_step_per_unit_share_ci95": None,
                "smooth": None}
    pooled, _ = stats.pooled_sd([g.to_numpy() for _, g in by_k])
    rho = float(st.spearmanr(means.index, means.values).statistic) if len(means) > 2 else np.nan
    ks = np.r_[0, means.index.to_numpy(float)]
    errs = np.r_[base_error, means.values]
    rise = float(errs[-1] - errs[0])
    per_unit = np.diff(errs) / np.diff(ks)
    largest_at = int(per_unit.argmax())
    out = {"spearman_rho": rho, "total_rise": rise, "k_range": [int(ks[1]), int(ks[-1])],
           "largest_step_per_unit_share": float(per_unit[largest_at] / rise) if rise > 0 else np.nan,
           "largest_step_per_unit_share_ci95": None}
    if rise <= 0 or not rho >= RHO_MIN:
        return {**out, "smooth": False}
    if pooled is None:  # one draw at every k: no scatter to judge a step against
        return {**out, "smooth": None}
    # variance of each mean (the intact net's is exact: it is one fixed net)
    var = np.r_[0.0, (sds.where(sizes >= 2, pooled) ** 2 / sizes).to_numpy()]
    half = 1.96 * np.sqrt(var[1:] + var[:-1]) / np.diff(ks)
    low, high = (per_unit - half) / rise, (per_unit + half) / rise
    out["largest_step_per_unit_share_ci95"] = [float(low[largest_at]), float(high[largest_at])]
    smooth = (False if (low > JUMP_SHARE).any() else
              True if (high <= JUMP_SHARE).all() else None)
    return {**out, "smooth": smooth}


# The report's summary (claims/__init__.py): from the notebook's verdict, never by hand.

def headline(record: dict, folder) -> str:
    """Ours, parallel to PAPER_HEADLINE: the median change from deleting one unit, ResNet and
    plain, and the downsampling units'."""
    v, depth = record["verdict"], record["parameters"]["depth"]
    out = (f"ResNet-{depth}: deleting one unit {v['resnet_inner_median_increase']:+.1f} points "
           f"(median, from {v['resnet_base_error']:.1f}%)")
    if "plain_median_increase" in v:
        out += f", plain-{depth} {v['plain_median_increase']:+.1f}"
    if v.get("resnet_downsampling_increase"):
        out += "; downsampling units " + " / ".join(f"{x:+.1f}" for x in v["resnet_downsampling_increase"])
    if "deletions" in v and v["deletions"].get("k_range", ()) is not None:
        d = v["deletions"]
        out += (f"; k random units deleted: error {d['total_rise']:+.1f} points over the range of k, "
                f"Spearman rho {d['spearman_rho']:.2f}")
    return out


def in_brief(record: dict) -> str:
    """Each part of the verdict as the paper or not."""
    v = record["verdict"]
    deletions = v.get("deletions")
    parts = [("one deletion unnoticeable", v["single_deletion_barely_matters"]),
             ("far less than in the plain net", v.get("single_deletion_contrast_holds")),
             ("downsampling units matter more", v.get("downsampling_matters_more")),
             # None in the record: undecided within the draws' scatter; absent: not measured
             ("smooth in k deleted", "undecided" if deletions and deletions["smooth"] is None
              else (deletions or {}).get("smooth"))]
    if "swaps" in v:
        parts.append(("error grows with reordering", v["swaps"]["spearman_rho_tau_error"] < 0
                      and v["swaps"]["p"] < 0.05))
    shown = [(name, ok) for name, ok in parts if ok is not None]
    undecided = sum(ok == "undecided" for _, ok in shown)
    held = sum(ok is True for _, ok in shown)
    return (f"{held} of {len(shown)} as the paper"
            + (f" ({undecided} undecided)" if undecided else "") + ": "
            + ", ".join(f"{name} {ok if isinstance(ok, str) else 'yes' if ok else 'no'}"
                        for name, ok in shown))
