"""Claim 3 (He et al. 2016, "Identity Mappings in Deep Residual Networks", Tables 1 and 2):
keep the shortcut a clean identity and put BN and ReLU before the weights, not after the addition.

Two ablation families, each against the original post-activation unit with identity shortcuts:
- shortcut variants (Table 1): scaling, gating, 1x1 conv or dropout on the shortcut;
- activation placement (Table 2): where BN and ReLU sit relative to the addition.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import RunConfig
from ..evaluation import one_test_set
from ..paper import HE2016
from ..profiles import get_profile
from ..stats import difference_half_width, pooled_sd
from . import seeds_in_words

if TYPE_CHECKING:  # for annotations only: the functions that build tables import pandas
    import pandas as pd

FAIL_THRESHOLD = 20.0  # the paper's "fail": test error above 20%
# How the paper's own numbers are read, variant against the original unit: "worse" from half a
# point up, "better" from 0.2 down. The paper's spread over 5 runs of ResNet-110 is sd 0.16
# (He et al. 2015, Table 6), so smaller differences in its tables are within its own noise.
PAPER_WORSE_POINTS = 0.5
PAPER_BETTER_POINTS = 0.2


@dataclass(frozen=True)
class Variant:
    key: str
    family: str                     # "shortcut" (Table 1) or "activation" (Table 2)
    label: str
    options: dict                   # model options beside depth (empty: the original unit)
    paper_error_110: float | None   # ResNet-110 test error (%); None where the paper says "fail"
    paper_fails: bool
    source: str
    paper_error_164: float | None = None  # Table 2's ResNet-164 (bottleneck) column


ORIGINAL = Variant("original", "both", "original (post-activation, identity shortcut)", {},
                   6.61, False, f"{HE2016}, Tables 1-2", 5.93)
VARIANTS = (
    ORIGINAL,
    Variant("scale_shortcut_0.5", "shortcut", "constant scaling: 0.5 on shortcut, 1 on F",
            {"unit": "constant_scaling", "shortcut_scale": 0.5, "branch_scale": 1.0},
            None, True, f"{HE2016}, Table 1"),
    Variant("scale_both_0.5", "shortcut", "constant scaling: 0.5 on shortcut and on F",
            {"unit": "constant_scaling", "shortcut_scale": 0.5, "branch_scale": 0.5},
            12.35, False, f"{HE2016}, Table 1"),
    Variant("exclusive_gating_-6", "shortcut", "exclusive gating, b_g init -6",
            {"unit": "exclusive_gating", "gate_bias": -6.0}, 8.70, False, f"{HE2016}, Table 1"),
    Variant("exclusive_gating_0", "shortcut", "exclusive gating, b_g init 0",
            {"unit": "exclusive_gating", "gate_bias": 0.0}, None, True, f"{HE2016}, Table 1"),
    Variant("shortcut_gating_0", "shortcut", "shortcut-only gating, b_g init 0",
            {"unit": "shortcut_only_gating", "gate_bias": 0.0}, 12.86, False, f"{HE2016}, Table 1"),
    Variant("shortcut_gating_-6", "shortcut", "shortcut-only gating, b_g init -6",
            {"unit": "shortcut_only_gating", "gate_bias": -6.0}, 6.91, False, f"{HE2016}, Table 1"),
    Variant("conv1x1_shortcut", "shortcut", "1x1 conv shortcut (option C)", {"shortcut": "C"},
            12.22, False, f"{HE2016}, Table 1"),
    Variant("dropout_shortcut", "shortcut", "dropout 0.5 on the shortcut",
            {"unit": "dropout_shortcut"}, None, True, f"{HE2016}, Table 1"),
    Variant("bn_after_addition", "activation", "BN after addition",
            {"unit": "bn_after_addition"}, 8.17, False, f"{HE2016}, Table 2", 6.5),
    Variant("relu_before_addition", "activation", "ReLU before addition",
            {"unit": "relu_before_addition"}, 7.84, False, f"{HE2016}, Table 2", 6.14),
    Variant("relu_only_preactivation", "activation", "ReLU-only pre-activation",
            {"unit": "relu_only_preactivation"}, 6.71, False, f"{HE2016}, Table 2", 5.91),
    Variant("full_preactivation", "activation", "full pre-activation",
            {"unit": "full_preactivation"}, 6.37, False, f"{HE2016}, Table 2", 5.46),
)
BY_KEY = {v.key: v for v in VARIANTS}
PAPER_HEADLINE = ("ResNet-110: original unit 6.61%; every shortcut variant worse (1x1 conv 12.22%, "
                  "dropout shortcut and constant scaling fail); full pre-activation 6.37% "
                  "(He et al. 2016, Tables 1-2)")

# Parameters of notebook 03 per profile (claims/__init__.py). He et al. 2016 report the median
# of 5 runs; the paper profile trains 5 seeds of every variant, and Table 2's ResNet-164.
_ALL = [v.key for v in VARIANTS]
DEFAULTS = {"paper": dict(depth=110, variants=_ALL, seeds=[0, 1, 2, 3, 4], original_seeds=None,
                          bottleneck_depth=164),
            "cpu": dict(depth=20, variants=[k for k in _ALL if k not in
                                            ("exclusive_gating_0", "shortcut_gating_-6")],
                        seeds=[0, 1], original_seeds=[0, 1, 2], bottleneck_depth=None),
            "smoke": dict(depth=8, variants=_ALL, seeds=[0], original_seeds=[0, 1],
                          bottleneck_depth=11)}
NOTES = {"cpu": ("ResNet-20 instead of ResNet-110, two seeds per variant (paper: five; three for "
                 "the original unit, which measure the seed noise); two of the paper's gating biases left out; no ResNet-164 "
                 "(bottleneck) column of Table 2",)}


def get_variant(key: str) -> Variant:
    if key not in BY_KEY:
        raise ValueError(f"unknown variant {key!r}; choose from {', '.join(BY_KEY)}")
    return BY_KEY[key]


def recipe(profile: str):
    """The profile's recipe under the 2016 protocol: the lr 0.01 warm-up on every run, not only
    on the deepest nets (He et al. 2016, sec. 4: "0.01 for the first 400 iterations")."""
    return dataclasses.replace(get_profile(profile).recipe, warmup_min_depth=0)


# Bottleneck nets (ResNet-164) use projections where the shape changes, as in the paper.
BOTTLENECK_OPTIONS = {"bottleneck": True, "shortcut": "B"}


def configs(profile: str, depth: int, variants: list[str], seeds: list[int],
            original_seeds: list[int] | None = None,
            bottleneck_depth: int | None = None) -> list[RunConfig]:
    """Every run: each variant at `depth` for each seed; the original unit, the baseline of both
    families, for `original_seeds` (default `seeds`), which gives the seed noise. With
    `bottleneck_depth` (paper: 164), Table 2's activation variants also as bottleneck nets."""
    r = recipe(profile)
    out = []
    nets = [({"depth": depth}, VARIANTS)]
    if bottleneck_depth:
        nets.append(({"depth": bottleneck_depth, **BOTTLENECK_OPTIONS},
                     [v for v in VARIANTS if v.family in ("activation", "both")]))
    for net, allowed in nets:
        for key in variants:
            v = get_variant(key)
            if v not in allowed:
                continue
            for seed in (original_seeds or seeds) if v is ORIGINAL else seeds:
                out.append(RunConfig("resnet", seed, r, {**net, **v.options}))
    return out


def variant_of(run) -> Variant:
    """The variant a run trained, from its model options."""
    opts = {k: v for k, v in run.config.model_options.items() if k != "depth"}
    if opts.get("bottleneck"):
        opts = {k: v for k, v in opts.items() if k not in BOTTLENECK_OPTIONS}
    for v in VARIANTS:
        if v.options == opts:
            return v
    raise ValueError(f"run {run.config.run_id} is none of the variants")


def net_of(run) -> str:
    """'ResNet-20', or 'ResNet-164 (bottleneck)'."""
    bottleneck = run.config.model_options.get("bottleneck", False)
    return f"ResNet-{run.summary['depth']}" + (" (bottleneck)" if bottleneck else "")


def run_table(runs) -> "pd.DataFrame":
    import pandas as pd

    rows = []
    for r in runs:
        v = variant_of(r)
        rows.append({"net": net_of(r), "variant": v.key, "family": v.family, "label": v.label,
                     "depth": r.summary["depth"], "bottleneck": "bottleneck" in net_of(r),
                     "seed": r.summary["seed"], "parameters": r.summary["parameters"],
                     **r.error_columns()})
    return pd.DataFrame(rows)


def _noise(df, col: str) -> tuple[float | None, int]:
    """Seed noise: pooled sd over seeds within each variant, and its degrees of freedom."""
    return pooled_sd(g[col] for _, g in df.groupby("variant"))


def _paper_vs_original(v: Variant, bottleneck: bool) -> str:
    if v is ORIGINAL:
        return ""
    if v.paper_fails:
        return "worse"
    ours, base = ((v.paper_error_164, ORIGINAL.paper_error_164) if bottleneck
                  else (v.paper_error_110, ORIGINAL.paper_error_110))
    return ("worse" if ours - base > PAPER_WORSE_POINTS else
            "better" if base - ours > PAPER_BETTER_POINTS else "about equal")


def _net_rows(df, split: str) -> list[dict]:
    import numpy as np
    col = f"{split}_error"
    noise_sd, dof = _noise(df, col)
    base = df[df["variant"] == ORIGINAL.key][col]
    bottleneck = bool(df["bottleneck"].iloc[0])
    rows = []
    for v in VARIANTS:
        sub = df[df["variant"] == v.key]
        if sub.empty:
            continue
        e = sub[col]
        row = {"net": sub["net"].iloc[0], "variant": v.key, "family": v.family, "label": v.label,
               "seeds": len(e), f"{split}_error_median": float(e.median()),
               f"{split}_error_mean": float(e.mean()),
               f"{split}_error_sd": float(e.std(ddof=1)) if len(e) > 1 else np.nan,
               "train_error_mean": float(sub["train_error"].mean()),
               "fails_by_paper_threshold": bool(e.median() > FAIL_THRESHOLD)}
        if v is not ORIGINAL and len(base) and noise_sd:
            diff = float(e.mean() - base.mean())
            half = difference_half_width(noise_sd, dof, len(e), len(base))
            row.update(change_vs_original=diff, change_ci_low=diff - half, change_ci_high=diff + half)
            row["ours_vs_original"] = ("worse" if diff - half > 0 else "better" if diff + half < 0
                                       else "within noise")
        row.update(paper_net="ResNet-164" if bottleneck else "ResNet-110",
                   paper_error=v.paper_error_164 if bottleneck else v.paper_error_110,
                   paper_fails=v.paper_fails and not bottleneck,
                   paper_vs_original=_paper_vs_original(v, bottleneck), paper_source=v.source)
        rows.append(row)
    return rows


def _detectable(judged, base) -> tuple[list[str], float | None]:
    """Variants whose paper effect (its error minus the original's; a failing variant counts as
    reaching FAIL_THRESHOLD) exceeds the smallest change our seeds can show (the narrowest
    half-width of the variants' intervals)."""
    if judged.empty or "change_ci_high" not in judged:
        return [], None
    halves = (judged["change_ci_high"] - judged["change_vs_original"]).dropna()
    if halves.empty:
        return [], None
    half = float(halves.min())
    paper_base = float(base["paper_error"].iloc[0]) if len(base) else float("nan")
    out = []
    for r in judged.itertuples():
        effect = (FAIL_THRESHOLD - paper_base) if r.paper_fails else (r.paper_error - paper_base)
        hw = r.change_ci_high - r.change_vs_original
        if abs(effect) > hw:
            out.append(r.variant)
    return out, half


def comparison_table(runs, split: str = "test") -> "pd.DataFrame":
    """Per net and variant: error (median, as the paper reports, and mean, sd over seeds), the
    change from the original unit of the same net with its 95% interval (seed noise pooled over
    the variants trained with several seeds), and the paper's number for its ResNet-110 (basic
    units) or ResNet-164 (bottleneck)."""
    return comparison_from_table(run_table(runs), split)


def comparison_from_table(df, split: str = "test") -> "pd.DataFrame":
    """comparison_table on a table of runs (net, variant, family, seed, <split>_error, ...)."""
    import pandas as pd

    rows = [row for _, g in df.groupby("net", sort=False) for row in _net_rows(g, split)]
    out = pd.DataFrame(rows)
    out.insert(2, "test_images", one_test_set(df))  # which test set: see Run.final_test
    return out


def verdict(runs, split: str = "test") -> dict:
    """Per net and ablation family: which variants are worse (or better) than the original unit
    beyond seed noise, against the paper's Table 1 / Table 2, and which 'fail' (> 20% error)."""
    return verdict_from_table(run_table(runs), split)


def verdict_from_table(df, split: str = "test") -> dict:
    """The rule of `verdict`, on a table of runs. Each variant's change from the original has a
    95% interval from seed noise; its half-width is the smallest change these seeds can show,
    and the verdict names which of the paper's effects are that large (issue 10: at one seed
    and a few runs of the original, only collapses are)."""
    table = comparison_from_table(df, split)
    out = {"split": split, "nets": {}}
    texts = []
    for net, sub_net in table.groupby("net", sort=False):
        noise_sd, dof = _noise(df[df["net"] == net], f"{split}_error")
        base = sub_net[sub_net["variant"] == ORIGINAL.key]
        base_err = float(base[f"{split}_error_median"].iloc[0]) if len(base) else None
        informative = base_err is not None and base_err < FAIL_THRESHOLD
        rec = {"noise_sd": noise_sd, "noise_dof": dof, "original_error": base_err,
               "fail_threshold_informative": informative, "families": {}}
        for family, table_no in (("shortcut", "Table 1"), ("activation", "Table 2")):
            sub = sub_net[sub_net["family"] == family]
            if sub.empty:
                continue
            judged = (sub.dropna(subset=["ours_vs_original"]) if "ours_vs_original" in sub
                      else sub.iloc[:0])
            if judged.empty:  # a campaign part-way: say what is missing, judge nothing
                reason = ("the original unit has no complete run" if base_err is None else
                          "no variant has two complete seeds to measure seed noise with")
                line = (f"{net}, {table_no} ({family} variants): {', '.join(sub['variant'])} "
                        f"not compared with the original unit: {reason}.")
                rec["families"][family] = {"variants": list(sub["variant"]), "not_compared": reason,
                                           "text": line}
                texts.append(line)
                continue
            agree = [r.variant for r in judged.itertuples()
                     if r.ours_vs_original == r.paper_vs_original
                     or (r.paper_vs_original == "about equal" and r.ours_vs_original == "within noise")]
            worse = list(judged.loc[judged["ours_vs_original"] == "worse", "variant"])
            better = list(judged.loc[judged["ours_vs_original"] == "better", "variant"])
            fails = list(sub.loc[sub["fails_by_paper_threshold"], "variant"])
            paper_fails = list(sub.loc[sub["paper_fails"], "variant"])
            detectable, half = _detectable(judged, base)
            line = (f"{net}, {table_no} ({family} variants): {len(worse)} of {len(judged)} worse than "
                    f"the original beyond seed noise ({', '.join(worse) or 'none'}), {len(better)} "
                    f"better ({', '.join(better) or 'none'}); the direction matches the paper for "
                    f"{len(agree)} of {len(judged)}.")
            if half is not None:
                line += (f" These seeds show a change only beyond +-{half:.1f} points; of the paper's "
                         f"effects, {len(detectable)} of {len(judged)} are that large "
                         f"({', '.join(detectable) or 'none'}).")
            if family == "shortcut":
                if informative:
                    line += (f" Fail (> {FAIL_THRESHOLD:.0f}%): {', '.join(fails) or 'none'}; "
                             f"the paper: {', '.join(paper_fails) or 'none'}.")
                else:
                    line += (f" The paper's fail threshold ({FAIL_THRESHOLD:.0f}%) says nothing at "
                             f"this budget: the original unit itself is at {base_err:.1f}%.")
            rec["families"][family] = {
                "variants": list(sub["variant"]), "worse_than_original": worse,
                "better_than_original": better, "agree_with_paper": agree, "fail": fails,
                "paper_fail": paper_fails, "smallest_detectable_change": half,
                "paper_effects_detectable": detectable, "text": line}
            texts.append(line)
        if not rec["families"]:
            texts.append(f"{net}: only the original unit is complete; no variant to compare yet.")
        if noise_sd is not None:
            texts.append(f"{net}: seed noise sd {noise_sd:.2f} points of {split} error ({dof} dof), "
                         "from the variants trained with more than one seed.")
        out["nets"][net] = rec
    out["text"] = "\n".join(texts)
    return out


# The report's summary (claims/__init__.py): from the notebook's outputs, never by hand.
HEADLINE_NAMES = {"original": "original unit", "conv1x1_shortcut": "1x1 conv shortcut",
                  "full_preactivation": "full pre-activation"}   # the variants PAPER_HEADLINE names
HEADLINE_VARIANTS = tuple(HEADLINE_NAMES)


def headline(record: dict, folder) -> str:
    """Ours, parallel to PAPER_HEADLINE: median test error of the original unit, the 1x1-conv
    shortcut and full pre-activation, per net."""
    import pandas as pd

    df = pd.read_csv(folder / "comparison.csv")
    parts = []
    for net, g in df.groupby("net", sort=False):
        g = g.set_index("variant")
        shown = [v for v in HEADLINE_VARIANTS if v in g.index]
        if not shown:  # a campaign part-way: none of the headline's variants complete yet
            parts.append(f"{net}: {', '.join(HEADLINE_NAMES.values())} not complete yet")
            continue
        errors = ", ".join(f"{HEADLINE_NAMES[v]} {g.loc[v, 'test_error_median']:.2f}%" for v in shown)
        seeds = seeds_in_words(g.loc[shown, "seeds"]).replace("mean of", "median over")
        parts.append(f"{net}: {errors} ({seeds})")
    return "; ".join(parts)


def in_brief(record: dict) -> str:
    """Per net and table: how many variants are worse than the original beyond seed noise, and
    the smallest change these seeds resolve."""
    parts = []
    for net, rec in record["verdict"]["nets"].items():
        if not rec["families"]:
            parts.append(f"{net}: only the original unit complete so far")
        for family, table in (("shortcut", "Table 1"), ("activation", "Table 2")):
            if family not in rec["families"]:
                continue
            f = rec["families"][family]
            if "not_compared" in f:
                parts.append(f"{net}, {table}: not compared yet ({f['not_compared']})")
                continue
            parts.append(f"{net}, {table}: {len(f['worse_than_original'])} of {len(f['variants'])} "
                         f"variants worse than the original beyond seed noise, "
                         f"{len(f['better_than_original'])} better")
        half = next((f["smallest_detectable_change"] for f in rec["families"].values()
                     if f.get("smallest_detectable_change") is not None), None)
        if half is not None:
            parts[-1] += f" (changes below {half:.1f} points not resolved)"
    return "; ".join(parts)
