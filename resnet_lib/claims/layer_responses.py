"""Claim 4 (He et al. 2015, sec. 4.2, Fig. 7): ResNet layers respond less than plain ones, and
less the deeper the ResNet. Uses the nets notebook 01 trains (the same run-store entries)."""

from __future__ import annotations

import numpy as np

from ..analysis.inputs import test_inputs
from ..analysis.responses import bootstrap_std, per_image_moments, std_from_moments
from . import plain_vs_residual

ANALYSIS_VERSION = 1
BOOTSTRAP_DRAWS = 200


def configs(profile: str, depths: list[int], seeds: list[int]):
    """Claim 1's runs: plain and ResNet at each depth, so nothing is trained twice."""
    return plain_vs_residual.configs(profile, depths, seeds)


def measure(runs, data) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """Per run: the std of every 3x3 layer's response (with a 95% bootstrap interval over test
    images), and the bootstrap draws of its mean over layers. The same resampled image sets are
    used for every net, so differences between nets are paired."""
    import pandas as pd

    layer_rows, draw_rows = [], []
    for run in runs:
        model = run.load_model()
        images, _ = test_inputs(run.config, data)
        names, moments = per_image_moments(model, images)
        std = std_from_moments(moments)
        boot = bootstrap_std(moments, BOOTSTRAP_DRAWS, seed=0)
        lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
        ident = {"family": run.config.model, "depth": run.summary["depth"], "seed": run.summary["seed"]}
        order = np.argsort(-std)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(std))
        for i, name in enumerate(names):
            layer_rows.append({**ident, "layer_index": i + 1, "layer": name, "std": std[i],
                               "std_ci_low": lo[i], "std_ci_high": hi[i], "rank_by_magnitude": rank[i] + 1})
        for d, m in enumerate(boot.mean(1)):
            draw_rows.append({**ident, "draw": d, "mean_std": m})
    return pd.DataFrame(layer_rows), pd.DataFrame(draw_rows)


def _ci(x) -> tuple[float, float]:
    lo, hi = np.percentile(x, [2.5, 97.5])
    return float(lo), float(hi)


def verdict(layers, draws) -> dict:
    """(1) At each depth, is the ResNet's mean response std (over layers) below the plain net's,
    with the median layer agreeing?
    (2) Among ResNets, is it lower for each deeper net? Each with a 95% bootstrap interval over
    test images (paired draws); seed-to-seed variation is not in the interval where one seed."""
    mean_std = layers.groupby(["family", "depth"])["std"].mean()
    boot = draws.groupby(["family", "depth", "draw"])["mean_std"].mean()
    out = {"resnet_vs_plain": {}, "deeper_resnet": {}, "seeds": sorted(layers["seed"].unique().tolist())}
    texts = []
    depths = sorted(layers["depth"].unique())
    for d in depths:
        if ("plain", d) not in mean_std or ("resnet", d) not in mean_std:
            continue
        ratio = boot.loc[("resnet", d)].to_numpy() / boot.loc[("plain", d)].to_numpy()
        r = float(mean_std[("resnet", d)] / mean_std[("plain", d)])
        ci = _ci(ratio)
        lw = layers[layers["depth"] == d].pivot_table(index="layer_index", columns="family", values="std")
        smaller = int((lw["resnet"] < lw["plain"]).sum())
        median_ratio = float(lw["resnet"].median() / lw["plain"].median())
        # The mean can be carried by a few large layers; ask the median layer to agree.
        holds = ci[1] < 1 and median_ratio < 1
        out["resnet_vs_plain"][int(d)] = {"ratio": r, "ci95": ci, "median_ratio": median_ratio,
                                          "holds": holds, "layers_smaller": smaller, "layers": len(lw)}
        texts.append(f"depth {d}: ResNet/plain mean response std = {r:.2f} (95% CI {ci[0]:.2f}-{ci[1]:.2f}), "
                     f"median layer {median_ratio:.2f}; smaller at {smaller} of {len(lw)} layers - "
                     + ("ResNet responds less, as the paper." if holds else
                        "ResNet responds more." if ci[0] > 1 and median_ratio > 1 else
                        "mixed: mean and median layer disagree." if (ci[1] < 1) != (median_ratio < 1)
                        else "not distinguishable."))
    res = [d for d in depths if ("resnet", d) in mean_std]
    for a, b in zip(res, res[1:]):
        ratio = boot.loc[("resnet", b)].to_numpy() / boot.loc[("resnet", a)].to_numpy()
        r, ci = float(mean_std[("resnet", b)] / mean_std[("resnet", a)]), _ci(ratio)
        holds = ci[1] < 1
        out["deeper_resnet"][f"{b}/{a}"] = {"ratio": r, "ci95": ci, "holds": holds}
        texts.append(f"ResNet-{b} / ResNet-{a} mean response std = {r:.2f} (95% CI {ci[0]:.2f}-{ci[1]:.2f}) - "
                     + ("the deeper net responds less, as the paper." if holds else
                        "the deeper net responds more." if ci[0] > 1 else "not distinguishable."))
    out["all_resnet_smaller"] = all(v["holds"] for v in out["resnet_vs_plain"].values())
    out["all_deeper_smaller"] = all(v["holds"] for v in out["deeper_resnet"].values())
    texts.append("Intervals cover the choice of test images only"
                 + (" (one trained net per model: seed-to-seed variation is not included)."
                    if len(out["seeds"]) == 1 else "."))
    out["text"] = "\n".join(texts)
    return out
