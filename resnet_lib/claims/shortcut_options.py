"""Claim 2 (He et al. 2015, sec. 3.3 and Table 3): the shortcut options A, B and C differ little
(C slightly better than B, B than A), so projection shortcuts are not essential.

A: identity shortcuts, zero-padded channels and stride-2 subsampling where the shape changes.
B: identity shortcuts, projections (1x1 conv + BN) where the shape changes.
C: projections everywhere.
The paper measured them on ImageNet only (ResNet-34 top-1: 25.03 / 24.52 / 24.19); here the same
question is asked on CIFAR-10, where no published numbers exist, so only the ordering and the
size of the gaps can be compared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import RunConfig
from ..evaluation import one_test_set
from ..profiles import get_profile
from ..stats import mean_interval, pooled_sd
from ..store import RunsNotComplete
from . import seeds_in_words

if TYPE_CHECKING:  # for annotations only: the functions that build tables import pandas
    import pandas as pd

OPTIONS = ("A", "B", "C")
# He et al. 2015, Table 3: ImageNet ResNet-34, 10-crop top-1 error (%).
IMAGENET_TOP1 = {"plain": 28.54, "A": 25.03, "B": 24.52, "C": 24.19}
PAPER_HEADLINE = ("ImageNet ResNet-34 top-1 error: option A 25.03, B 24.52, C 24.19% (Table 3): "
                  "C < B < A by small margins, projections \"not essential\"; no CIFAR numbers")

# Parameters of notebook 02 per profile (claims/__init__.py).
DEFAULTS = {"paper": dict(depths=[20, 56, 110], seeds=[0, 1, 2]),
            "cpu": dict(depths=[14, 20], seeds=[0, 1, 2]),
            "smoke": dict(depths=[8, 14], seeds=[0, 1])}
NOTES = {"cpu": ("depths 14 and 20 (paper profile: 20, 56, 110)",)}


def model_options(option: str, depth: int) -> dict:
    """Option A is the default shortcut, so its runs are claim 1's ResNets and are reused."""
    return {"depth": depth} if option == "A" else {"depth": depth, "shortcut": option}


def configs(profile: str, depths: list[int], seeds: list[int]) -> list[RunConfig]:
    recipe = get_profile(profile).recipe
    return [RunConfig("resnet", seed, recipe, model_options(option, depth))
            for option in OPTIONS for depth in depths for seed in seeds]


def option_of(run) -> str:
    return run.config.model_options.get("shortcut", "A")


def complete_sets(runs) -> list:
    """The runs whose depth and seed have every option complete: the options are compared on
    the same depths and seeds (paired gaps). Where runs come from a campaign (paper profile),
    a set may be part-trained; RunsNotComplete if no set is whole."""
    have: dict[tuple, set] = {}
    for r in runs:
        have.setdefault((r.summary["depth"], r.summary["seed"]), set()).add(option_of(r))
    whole = {k for k, options in have.items() if options == set(OPTIONS)}
    if not whole:
        raise RunsNotComplete(f"no depth and seed has options {', '.join(OPTIONS)} "
                              "all complete yet")
    left = sorted(k for k in have if k not in whole)
    if left:
        print("Left out until their set of options is complete: "
              + ", ".join(f"depth {d} seed {s} (has {', '.join(sorted(have[(d, s)]))})"
                          for d, s in left))
    return [r for r in runs if (r.summary["depth"], r.summary["seed"]) in whole]


def cost_table(depths: list[int]) -> "pd.DataFrame":
    """Parameters and multiply-adds of each option at each depth, computed from the models."""
    import pandas as pd

    from ..complexity import multiply_adds
    from ..models import count_parameters, create_model

    rows = []
    for depth in depths:
        base = None
        for option in OPTIONS:
            m = create_model("resnet", **model_options(option, depth))
            p, macs = count_parameters(m), multiply_adds(m)
            base = base or (p, macs)
            rows.append({"depth": depth, "option": option, "parameters": p,
                         "extra_parameters_vs_A": p - base[0], "multiply_adds_M": macs / 1e6,
                         "extra_multiply_adds_vs_A_pct": 100 * (macs - base[1]) / base[1]})
    return pd.DataFrame(rows)


def run_table(runs) -> "pd.DataFrame":
    """One row per run: option, depth, seed and final errors (%)."""
    import pandas as pd

    rows = [{"option": option_of(r), "depth": r.summary["depth"], "seed": r.summary["seed"],
             "parameters": r.summary["parameters"],
             "host": r.environment.get("device_name"),
             **r.error_columns()} for r in runs]
    return pd.DataFrame(rows).sort_values(["depth", "option", "seed"], ignore_index=True)


def comparison_table(runs) -> "pd.DataFrame":
    """Per depth and option: test (and train) error as mean and sd over seeds, with the
    paper's ImageNet ResNet-34 top-1 error beside it (a different data set: compare order only)."""
    df = run_table(runs)
    g = df.groupby(["depth", "option"])
    out = g[["test_error", "train_error"]].agg(["mean", "std"])
    out.columns = [f"{a}_{'sd' if b == 'std' else b}" for a, b in out.columns]
    out.insert(0, "seeds", g.size())
    out.insert(1, "test_images", one_test_set(df))  # which test set: see Run.final_test
    out = out.reset_index()
    out["imagenet_resnet34_top1"] = out["option"].map(IMAGENET_TOP1)
    return out


def verdict(runs, split: str = "test") -> dict:
    """Is C <= B <= A seen at every depth, and are the gaps larger than seed noise?

    Gaps are paired by (depth, seed): gap(X-Y) = error(X) - error(Y) for runs that share depth
    and seed (the same data order), averaged with a 95% t interval. Seed noise is the pooled
    sd of the error over seeds within each option and depth.
    """
    df = run_table(runs)
    one_test_set(df)
    return verdict_from_table(df, split)


def verdict_from_table(df, split: str = "test") -> dict:
    """The rule of `verdict` on a table of runs (option, depth, seed, <split>_error[, host]).
    Each gap's interval half-width is the smallest gap these pairs could have shown; the text
    says so, and how many pairs were trained on one host (a host's arithmetic can move a run)."""
    col = f"{split}_error"
    means = df.groupby(["depth", "option"])[col].mean().unstack("option")
    ordered = {int(d): bool(row["C"] <= row["B"] <= row["A"]) for d, row in means.iterrows()}
    noise_sd, dof = pooled_sd(g[col] for _, g in df.groupby(["depth", "option"]))
    wide = df.pivot_table(index=["depth", "seed"], columns="option", values=col)
    gaps = {}
    for hi, lo in (("A", "B"), ("B", "C"), ("A", "C")):
        d = (wide[hi] - wide[lo]).dropna().to_numpy()
        mean, ci = mean_interval(d)
        g = {"mean": mean, "pairs": len(d), "paper_imagenet": IMAGENET_TOP1[hi] - IMAGENET_TOP1[lo],
             "ci95": ci, "significant": bool(ci is not None and (ci[0] > 0 or ci[1] < 0)),
             "smallest_detectable": None if ci is None else (ci[1] - ci[0]) / 2}
        gaps[f"{hi}-{lo}"] = g
    all_ordered = all(ordered.values())
    texts = [f"Ordering C <= B <= A of mean {split} error: "
             + ", ".join(f"depth {d}: {'yes' if ok else 'no'}" for d, ok in ordered.items())
             + (" (as on ImageNet)." if all_ordered else ".")]
    for name, g in gaps.items():
        ci = (f"95% CI {g['ci95'][0]:+.2f} to {g['ci95'][1]:+.2f}" if g["ci95"] else "no interval: one pair")
        texts.append(f"gap {name}: {g['mean']:+.2f} points over {g['pairs']} paired runs ({ci}; "
                     f"ImageNet top-1: {g['paper_imagenet']:+.2f}) - "
                     + ("larger than seed noise." if g["significant"] else
                        "within seed noise" + (f": these pairs could show only gaps beyond "
                                               f"+-{g['smallest_detectable']:.2f} points."
                                               if g["smallest_detectable"] is not None else ".")))
    if noise_sd is not None:
        texts.append(f"Seed noise: sd {noise_sd:.2f} points of {split} error ({dof} dof).")
    one_host = None
    if "host" in df:
        hosts = df.groupby(["depth", "seed"])["host"].nunique()
        one_host = [int((hosts == 1).sum()), len(hosts)]
        if one_host[0] < one_host[1]:
            texts.append(f"Only {one_host[0]} of {one_host[1]} (depth, seed) sets of A, B and C were "
                         "trained on one host; the rest mix hosts.")
    return {"split": split, "ordered_by_depth": ordered, "ordering_as_paper": all_ordered,
            "gaps": gaps, "noise_sd": noise_sd, "noise_dof": dof, "sets_on_one_host": one_host,
            "text": "\n".join(texts)}


# The report's summary (claims/__init__.py): from the notebook's outputs, never by hand.

def headline(record: dict, folder) -> str:
    """Ours, parallel to PAPER_HEADLINE: mean test error of each option at each depth."""
    import pandas as pd

    df = pd.read_csv(folder / "comparison.csv")
    depths = [f"depth {d}: " + ", ".join(f"{o} {e:.1f}" for o, e in zip(g["option"], g["test_error_mean"]))
              + "%" for d, g in df.groupby("depth")]
    return f"CIFAR-10 test error, {'; '.join(depths)} ({seeds_in_words(df['seeds'])})"


def in_brief(record: dict) -> str:
    """The ordering and the gaps in a few words."""
    v = record["verdict"]
    held = [d for d, ok in v["ordered_by_depth"].items() if ok]
    out = "ordering C <= B <= A: " + (("at every depth" if len(held) == len(v["ordered_by_depth"])
                                       else "at depth " + ", ".join(held)) if held else "at no depth")
    big = [name for name, g in v["gaps"].items() if g["significant"]]
    sizes = [g["smallest_detectable"] for g in v["gaps"].values() if g["smallest_detectable"] is not None]
    if big:
        out += "; beyond seed noise: " + ", ".join(f"{n} {v['gaps'][n]['mean']:+.1f} points" for n in big)
    elif sizes:
        out += (f"; every gap within seed noise (detectable only beyond {min(sizes):.1f}-"
                f"{max(sizes):.1f} points)")
    else:
        out += "; no seed noise measured (one seed)"
    return out
