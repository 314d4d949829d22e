"""Claim 1 (He et al. 2015, Fig. 6 and Table 6): deeper plain nets train worse, deeper ResNets
train better."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..config import RunConfig
from ..evaluation import one_test_set
from ..paper import test_error
from ..profiles import get_profile
from ..stats import depth_trend
from . import seeds_in_words

if TYPE_CHECKING:  # for annotations only: the functions that build tables import pandas
    import pandas as pd

FAMILIES = ("plain", "resnet")
# The paper's numbers this claim is compared with, in a sentence (the HTML report's index).
PAPER_HEADLINE = ("ResNet test error 8.75 / 7.51 / 7.17 / 6.97 / 6.43% at depth 20 / 32 / 44 / 56 "
                  "/ 110 (Table 6); plain nets' training and test error rise with depth (Fig. 6: "
                  "plain-20 about 9.5%, plain-56 about 13.5% test error)")

# Parameters of notebook 01 per profile (claims/__init__.py).
DEFAULTS = {"paper": dict(depths=[20, 32, 44, 56, 110], seeds=[0, 1, 2]),
            "cpu": dict(depths=[20, 32, 44, 56], seeds=[0, 1, 2]),
            "smoke": dict(depths=[8, 14, 20], seeds=[0, 1])}
NOTES = {"cpu": ("depths 20-56 only (no 110): plain-110 and ResNet-110 cost 2x ResNet-56 each",)}


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
    # with one seed per net an sd is undefined: no column of NaN
    return out.dropna(axis=1, how="all")


# The paper's budget: 64k iterations of 128 images, 164 epochs of 50k (He et al. 2015, sec. 4.2).
PAPER_EPOCHS = 164


def verdict(runs, split: str = "train") -> dict:
    """Does error on `split` rise with depth for plain nets and fall for ResNets, beyond noise?
    (verdict_from_table on the runs' final errors)."""
    df = run_table(runs)
    epochs = min(r.summary.get("epochs", PAPER_EPOCHS) for r in runs)
    return verdict_from_table(df, split, epochs)


def verdict_from_table(df, split: str = "train", epochs: float = PAPER_EPOCHS) -> dict:
    """The rule, on a table of runs (family, depth, seed, <split>_error).

    For each family: the least-squares slope of final error on depth over all runs, expressed
    as the change from the shallowest to the deepest net, with its 95% interval. The noise is
    seed noise: the sd between runs that differ only in seed, pooled over depths
    (stats.depth_trend). With one seed per depth there is no measure of it, and the verdict is
    "undecided" (the scatter about the line would mix noise with any curvature of the trend).
    It stays "undecided" until both ends of the family's line, its shallowest and its deepest
    depth, have two or more seeds: the ends carry the slope, and a deeper net's seed noise need
    not be a shallower one's (plain-56 ends with about 9x plain-20's training error under the
    paper's recipe), so noise measured at one end alone is not the noise of the change.
    A significant change against the paper's direction is reported as such, with the budget
    (`epochs` against the paper's 164) as the reason to weigh it by.
    """
    col = f"{split}_error"
    lo, hi = int(df["depth"].min()), int(df["depth"].max())
    span = hi - lo
    short = epochs < PAPER_EPOCHS
    out = {"split": split, "depths": [lo, hi], "epochs": epochs, "families": {}}
    expected = {"plain": +1, "resnet": -1}  # the paper: plain rises, ResNet falls
    for family, sub in df.groupby("family"):
        seeds_per_depth = sub.groupby("depth").size()
        if (seeds_per_depth < 2).all():
            out["families"][family] = undecided_reading(
                family, sub, col, split, expected, "one seed per depth: no measure of seed noise",
                "one seed")
            continue
        ends = seeds_per_depth.iloc[[0, -1]]  # groupby sorts by depth
        if (ends < 2).any():
            measured = ", ".join(str(d) for d in seeds_per_depth.index[seeds_per_depth >= 2])
            out["families"][family] = undecided_reading(
                family, sub, col, split, expected,
                f"seed noise measured at depth {measured} only; both ends of the line, depths "
                f"{ends.index[0]} and {ends.index[-1]}, need two or more seeds",
                f"seeds at depth {measured} only")
            continue
        try:
            t = depth_trend(sub["depth"], sub[col])
        except ValueError as e:  # past the checks above: the seeds all sit at one depth
            out["families"][family] = {"significant": False, "agrees_with_paper": False,
                                       "decided": False, "why_undecided": "one depth",
                                       "text": f"{family}: no verdict ({e})."}
            continue
        change, ci = t.slope * span, (t.ci95[0] * span, t.ci95[1] * span)
        direction = "rises" if change > 0 else "falls"
        agrees = t.significant and (change > 0) == (expected[family] > 0)
        if agrees:
            judged = "as the paper says."
        elif not t.significant:
            judged = "not distinguishable from seed noise."
        else:
            judged = "the opposite of the paper" + (
                f", after {epochs:g} of the paper's {PAPER_EPOCHS} epochs (the paper's claim is "
                "about the end of training)." if short else ".")
        out["families"][family] = {
            "change": change, "ci95": ci, "noise_sd": t.noise_sd, "noise_source": t.noise_source,
            "significant": t.significant, "agrees_with_paper": agrees, "decided": True,
            "text": (f"{family}: {split} error {direction} by {abs(change):.1f} points from depth "
                     f"{lo} to {hi} (95% CI {ci[0]:+.1f} to {ci[1]:+.1f}; seed noise sd "
                     f"{t.noise_sd:.2f} points, {t.noise_source}) - {judged}"),
        }
    texts = [f["text"] for f in out["families"].values()]
    deepest = df[df["depth"] == hi].groupby("family")[col].agg(["mean", "size"])
    fams = out["families"]
    if {"plain", "resnet"} <= set(deepest.index) and all("noise_sd" in fams[f] for f in fams):
        gap = float(deepest.loc["plain", "mean"] - deepest.loc["resnet", "mean"])
        # sd of a difference of two means, each with its family's seed noise
        sd = float((fams["plain"]["noise_sd"] ** 2 / deepest.loc["plain", "size"]
                    + fams["resnet"]["noise_sd"] ** 2 / deepest.loc["resnet", "size"]) ** 0.5)
        out["gap_at_deepest"] = {"plain_minus_resnet": gap, "sd": sd}
        in_sd = f"{gap / sd:+.1f} noise sd" if sd > 0 else "no noise estimate"
        texts.append(f"At depth {hi} the plain net's {split} error is {gap:+.1f} points from the "
                     f"ResNet's ({in_sd}).")
    out["text"] = "\n".join(texts)
    return out


def undecided_reading(family: str, sub, col: str, split: str, expected: dict, why: str,
                      why_in_brief: str) -> dict:
    """Where the seed noise of the change is not measured (verdict_from_table) the verdict is
    "undecided", for the reason `why` ("one seed per depth: ..."; `why_in_brief` is its short
    form for in_brief), but what the nets show is still worth saying: the least-squares change
    of the error from the family's shallowest to its deepest net and whether it goes the
    paper's way. It carries no interval, since nothing here measures the noise it would need
    (the scatter about the line would mix that noise with any curvature)."""
    undecided = f"{family}: undecided ({why})"
    reading = {"significant": False, "agrees_with_paper": False, "decided": False,
               "why_undecided": why_in_brief}
    if sub["depth"].nunique() < 2:
        return {**reading, "text": undecided + "."}
    slope = float(np.polyfit(sub["depth"].astype(float), sub[col].astype(float), 1)[0])
    lo, hi = int(sub["depth"].min()), int(sub["depth"].max())
    change = slope * (hi - lo)
    papers_way = (change > 0) == (expected[family] > 0)
    rises, way = _direction_words(change, papers_way)
    return {**reading, "change": change, "in_papers_direction": papers_way,
            "text": (f"{undecided}; its {split} error {rises} by {abs(change):.1f} points from "
                     f"depth {lo} to {hi} (least-squares line through {len(sub)} nets), {way}.")}


def _direction_words(change: float, papers_way: bool) -> tuple[str, str]:
    """('rises' or 'falls', "the paper's direction" or "against the paper's direction"): the
    undecided reading's words, in full (undecided_reading) and in brief (in_brief)."""
    return ("rises" if change > 0 else "falls",
            f"{'the' if papers_way else 'against the'} paper's direction")


def verdicts_text(verdicts: dict) -> str:
    """The verdict of each split in words, each led by its split ("train error: ..."): what the
    notebook prints and the report page shows."""
    return "\n".join(f"{split} error: {v['text']}" for split, v in verdicts.items())


# The report's summary of this claim's results (html_report.py, the README's results table):
# computed from the notebook's outputs in its results folder, never written by hand.

def headline(record: dict, folder) -> str:
    """Ours, parallel to PAPER_HEADLINE: the ResNets' test error by depth and the plain nets'
    training error from the shallowest to the deepest (means over seeds, comparison.csv)."""
    import pandas as pd

    df = pd.read_csv(folder / "comparison.csv")
    res, plain = df[df["family"] == "resnet"], df[df["family"] == "plain"]
    parts = []
    if len(res):
        parts.append(f"ResNet test error {' / '.join(f'{e:.2f}' for e in res['test_error_mean'])}% "
                     f"at depth {' / '.join(str(d) for d in res['depth'])}")
    if len(plain) > 1:
        first, last = plain.iloc[0], plain.iloc[-1]
        parts.append(f"plain nets' training error {first['train_error_mean']:.2f}% at depth "
                     f"{first['depth']}, {last['train_error_mean']:.2f}% at {last['depth']}")
    return "; ".join(parts) + f" ({seeds_in_words(df['seeds'])})"


def in_brief(record: dict) -> str:
    """The training-error verdict of each family in a few words (Fig. 6's degradation is a
    training-error claim), and the test-error verdict beside it where the two differ."""
    verdicts = record["verdicts"]
    v = verdicts["train"]
    words = []
    for family, f in v["families"].items():
        name = "ResNet" if family == "resnet" else family
        judged = _judged_in_brief(f)
        test = verdicts.get("test", {}).get("families", {}).get(family)
        judged_test = judged if test is None else _judged_in_brief(test)
        if judged_test != judged:
            judged = f"{judged} in training error, {judged_test} in test error"
        words.append(f"{name}: {judged}")
    out = "; ".join(words)
    if v.get("epochs", PAPER_EPOCHS) < PAPER_EPOCHS - 1:
        out += f" (after {v['epochs']:g} of {PAPER_EPOCHS} epochs)"
    return out


def _judged_in_brief(f: dict) -> str:
    """One family's verdict on one split in a few words (in_brief)."""
    if not f["decided"]:
        why = f.get("why_undecided", "one seed")  # records written before it was kept
        if "change" in f:  # undecided_reading
            rises, way = _direction_words(f["change"], f["in_papers_direction"])
            return f"undecided ({why}; {rises} with depth, {way})"
        return f"undecided ({why})"
    if f["agrees_with_paper"]:
        return "as the paper"
    if not f["significant"]:
        return "within seed noise"
    return "the opposite of the paper"
