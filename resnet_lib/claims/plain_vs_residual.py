"""Claim 1 (He et al. 2015, Fig. 6 and Table 6): deeper plain nets train worse, deeper ResNets
train better."""

from __future__ import annotations

from ..config import RunConfig
from ..evaluation import one_test_set
from ..paper import test_error
from ..profiles import get_profile
from ..stats import depth_trend

FAMILIES = ("plain", "resnet")


def configs(profile: str, depths: list[int], seeds: list[int]) -> list[RunConfig]:
    """Every run of the claim: each family at each depth and seed, the profile's recipe."""
    recipe = get_profile(profile).recipe
    return [RunConfig(family, seed, recipe, {"depth": depth})
            for family in FAMILIES for depth in depths for seed in seeds]


def run_table(runs) -> "pd.DataFrame":
    """One row per run: final errors (%) on every split it has, and its speed. `test_images`
    says which test set `test_error` is on (Run.final_test)."""
    import pandas as pd

    rows = []
    for run in runs:
        s = run.summary
        rows.append({"family": run.config.model, "depth": s["depth"], "seed": s["seed"],
                     "parameters": s["parameters"],
                     **run.error_columns(),
                     "images_per_second": s["images_per_second"]})
    return pd.DataFrame(rows).sort_values(["family", "depth", "seed"], ignore_index=True)


def comparison_table(runs) -> "pd.DataFrame":
    """Per family and depth: reproduced errors (mean and sd over seeds) beside the paper's."""
    df = run_table(runs)
    splits = [c for c in ("train_error", "val_error", "test_error") if c in df]
    g = df.groupby(["family", "depth"])
    out = g[splits].mean().add_suffix("_mean").join(g[splits].std(ddof=1).add_suffix("_sd"))
    out.insert(0, "seeds", g.size())
    out.insert(1, "parameters", g["parameters"].first())
    out.insert(2, "test_images", one_test_set(df))  # which test set: see Run.final_test
    out = out.reset_index()
    paper = [test_error(f, d) for f, d in zip(out["family"], out["depth"])]
    out["paper_test_error"] = [p[0] for p in paper]
    out["paper_source"] = [p[1] for p in paper]
    return out


def verdict(runs, split: str = "train") -> dict:
    """Does error on `split` rise with depth for plain nets and fall for ResNets, beyond noise?

    For each family: the least-squares slope of final error on depth over all runs, expressed
    as the change from the shallowest to the deepest net, with its 95% interval (stats.depth_trend).
    """
    df = run_table(runs)
    col = f"{split}_error"
    lo, hi = int(df["depth"].min()), int(df["depth"].max())
    span = hi - lo
    out = {"split": split, "depths": [lo, hi], "families": {}}
    expected = {"plain": +1, "resnet": -1}  # the paper: plain rises, ResNet falls
    for family, sub in df.groupby("family"):
        try:
            t = depth_trend(sub["depth"], sub[col])
        except ValueError as e:  # too few runs to fit a line and judge it
            out["families"][family] = {"significant": False, "agrees_with_paper": False,
                                       "text": f"{family}: no verdict ({e})."}
            continue
        change, ci = t.slope * span, (t.ci95[0] * span, t.ci95[1] * span)
        direction = "rises" if change > 0 else "falls"
        agrees = t.significant and (change > 0) == (expected[family] > 0)
        out["families"][family] = {
            "change": change, "ci95": ci, "noise_sd": t.noise_sd, "noise_source": t.noise_source,
            "significant": t.significant, "agrees_with_paper": agrees,
            "text": (f"{family}: {split} error {direction} by {abs(change):.1f} points from depth "
                     f"{lo} to {hi} (95% CI {ci[0]:+.1f} to {ci[1]:+.1f}; run-to-run noise sd "
                     f"{t.noise_sd:.2f} points, {t.noise_source}) - "
                     + ("as the paper says." if agrees else
                        "not distinguishable from noise at this budget." if not t.significant
                        else "the opposite of the paper.")),
        }
    texts = [f["text"] for f in out["families"].values()]
    deepest = df[df["depth"] == hi].groupby("family")[col].agg(["mean", "size"])
    fams = out["families"]
    if {"plain", "resnet"} <= set(deepest.index) and all("noise_sd" in fams[f] for f in fams):
        gap = float(deepest.loc["plain", "mean"] - deepest.loc["resnet", "mean"])
        # sd of a difference of two means, each with its family's run-to-run noise
        sd = float((fams["plain"]["noise_sd"] ** 2 / deepest.loc["plain", "size"]
                    + fams["resnet"]["noise_sd"] ** 2 / deepest.loc["resnet", "size"]) ** 0.5)
        out["gap_at_deepest"] = {"plain_minus_resnet": gap, "sd": sd}
        in_sd = f"{gap / sd:+.1f} noise sd" if sd > 0 else "no noise estimate"
        texts.append(f"At depth {hi} the plain net's {split} error is {gap:+.1f} points from the "
                     f"ResNet's ({in_sd}).")
    out["text"] = "\n".join(texts)
    return out
