"""Claim 5 (Veit, Wilber, Belongie 2016, sec. 4-5): a trained ResNet behaves like an ensemble of
shallower paths. Deleting one unit at test time hurts little (except where it downsamples);
deleting a plain net's layers destroys it; error grows smoothly with the number of units deleted
or swapped. Uses notebook 01's nets."""

from __future__ import annotations

import random

import numpy as np
import torch

from ..analysis import lesion
from ..analysis.inputs import test_inputs
from . import plain_vs_residual

ANALYSIS_VERSION = 1


def configs(profile: str, depth: int, seed: int):
    """The ResNet and the plain net of claim 1 at `depth`, one seed."""
    return plain_vs_residual.configs(profile, [depth], [seed])


@torch.no_grad()
def _wrong(model, images, labels, batch_size: int = 500) -> torch.Tensor:
    model.eval()
    return torch.cat([model(images[i:i + batch_size]).argmax(1) != labels[i:i + batch_size]
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


def single_deletions(runs, data) -> "pd.DataFrame":
    """Every unit of each net deleted in turn (plain: the unit's two layers removed, the input
    passed on)."""
    import pandas as pd

    rows = []
    for run in runs:
        model = run.load_model()
        x, y = test_inputs(run.config, data)
        base = _wrong(model, x, y)
        down = set(lesion.downsampling_units(model))
        rows.append({"family": run.config.model, "deleted_unit": -1, "downsampling": False,
                     **_compare(base, base)})
        for i in range(len(model.blocks)):
            rows.append({"family": run.config.model, "deleted_unit": i, "downsampling": i in down,
                         **_compare(base, _wrong(lesion.lesioned(model, [i]), x, y))})
    return pd.DataFrame(rows)


def random_deletions(run, data, ks: list[int], draws: int, seed: int = 0) -> "pd.DataFrame":
    """Error after deleting k random units, `draws` times per k."""
    import pandas as pd

    model = run.load_model()
    x, y = test_inputs(run.config, data)
    base = _wrong(model, x, y)
    rng = random.Random(seed)
    n = len(model.blocks)
    rows = []
    for k in ks:
        for d in range(draws):
            deleted = rng.sample(range(n), k)
            rows.append({"k": k, "draw": d, **_compare(base, _wrong(lesion.lesioned(model, deleted), x, y))})
    return pd.DataFrame(rows)


def random_swaps(run, data, ks: list[int], draws: int, seed: int = 0) -> "pd.DataFrame":
    """Error after k random swaps of shape-compatible units, with the order's Kendall tau."""
    import pandas as pd

    model = run.load_model()
    x, y = test_inputs(run.config, data)
    base = _wrong(model, x, y)
    rng = random.Random(seed)
    rows = []
    for k in ks:
        for d in range(draws):
            order = lesion.random_swaps(model, k, rng)
            rows.append({"k": k, "draw": d, "kendall_tau": lesion.kendall_tau(order),
                         **_compare(base, _wrong(lesion.reordered(model, order), x, y))})
    return pd.DataFrame(rows)


def verdict(single, deletions, swaps) -> dict:
    """Computed from the tables: (1) single deletions of non-downsampling ResNet units raise the
    error little compared with deleting a plain net's units; (2) downsampling units matter more;
    (3) error grows smoothly with k; (4) error rises as Kendall tau falls."""
    from scipy import stats as st

    out, texts = {}, []
    res = single[(single["family"] == "resnet") & (single["deleted_unit"] >= 0)]
    pla = single[(single["family"] == "plain") & (single["deleted_unit"] >= 0)]
    base = single[single["deleted_unit"] < 0].set_index("family")["error"]
    inner, down = res[~res["downsampling"]], res[res["downsampling"]]
    out["resnet_base_error"], out["plain_base_error"] = float(base["resnet"]), float(base.get("plain", np.nan))
    out["resnet_inner_median_increase"] = float(inner["increase"].median())
    out["resnet_inner_significant"] = int((inner["increase"] > 1.96 * inner["increase_sd"]).sum())
    out["resnet_downsampling_increase"] = down["increase"].tolist()
    if len(pla):
        out["plain_median_increase"] = float(pla["increase"].median())
        out["plain_median_error"] = float(pla["error"].median())
        holds = out["plain_median_increase"] > 3 * max(out["resnet_inner_median_increase"], 0.5)
        out["single_deletion_contrast_holds"] = bool(holds)
        texts.append(f"Deleting one unit: ResNet (non-downsampling units) median error increase "
                     f"{out['resnet_inner_median_increase']:+.1f} points from {base['resnet']:.1f}% "
                     f"({out['resnet_inner_significant']} of {len(inner)} beyond 1.96 sd of the paired change); "
                     f"plain net median increase {out['plain_median_increase']:+.1f} points "
                     f"(to {out['plain_median_error']:.1f}%, from {base['plain']:.1f}%) - "
                     + ("the plain net is hurt far more, as the paper." if holds else
                        "no clear contrast at this budget."))
    if len(down):
        more = bool(down["increase"].mean() > inner["increase"].quantile(0.9))
        out["downsampling_matters_more"] = more
        texts.append(f"Downsampling units {down['deleted_unit'].tolist()}: increases "
                     + ", ".join(f"{v:+.1f}" for v in down["increase"]) + " points - "
                     + ("above 90% of the other units, as the paper." if more else
                        "not above the other units."))
    means = deletions.groupby("k")["error"].mean()
    rho = float(st.spearmanr(means.index, means.values).statistic) if len(means) > 2 else np.nan
    steps = np.diff(np.r_[out["resnet_base_error"], means.values])
    rise = float(means.iloc[-1] - out["resnet_base_error"])
    largest = float(steps.max() / rise) if rise > 0 else np.nan
    smooth = bool(rho > 0.9 and largest < 0.5)
    out["deletions"] = {"spearman_rho": rho, "total_rise": rise, "largest_step_share": largest,
                        "smooth": smooth}
    texts.append(f"Deleting k random units (k = {means.index.min()}..{means.index.max()}): mean error rises "
                 f"{rise:+.1f} points, Spearman rho {rho:.2f}, largest single step {largest:.0%} of the rise - "
                 + ("smooth, as the paper." if smooth else "not smooth by this test (rho > 0.9, step < 50%)."))
    if len(swaps):
        r = st.spearmanr(swaps["kendall_tau"], swaps["error"])
        out["swaps"] = {"spearman_rho_tau_error": float(r.statistic), "p": float(r.pvalue)}
        texts.append(f"Swapping units: error vs Kendall tau, Spearman rho {r.statistic:.2f} (p = {r.pvalue:.1g}) - "
                     + ("error grows as the order departs from the trained one, as the paper."
                        if r.statistic < 0 and r.pvalue < 0.05 else "no clear relation."))
    out["text"] = "\n".join(texts)
    return out
