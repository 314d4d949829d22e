"""Figures, drawn from stored metrics only (restyling never retrains)."""

from __future__ import annotations

import matplotlib.pyplot as plt


def _test_note(runs) -> str:
    """What the bold test curves and the end markers are measured on, from the runs themselves:
    runs trained before the full test set was here logged their curves on its first 1,000."""
    logged = sorted({r.logged_test()["images"] for r in runs})
    final = sorted({r.final_test["images"] for r in runs})
    note = f"bold: test error during training ({' / '.join(f'{n:,}' for n in logged)} test images)"
    if final != logged:
        note += f"; dots: final test error on {' / '.join(f'{n:,}' for n in final)} test images"
    return note


def _final_test_dot(ax, run, colour) -> None:
    """The final test error on the largest test set, where it is not the curve's own end."""
    if run.final_test["images"] != run.logged_test()["images"]:
        ax.plot([run.summary["iterations"]], [run.final_test["error"]], "o", ms=5, mfc="white",
                mec=colour, mew=1.5, zorder=5)


# He et al. 2015 draw Fig. 6 on 0-20% error, where the converged nets differ; a budget whose nets
# end far higher (the `cpu` profile's 2 epochs: 35-75%) needs more of the axis.
ERROR_AXIS_TOPS = (20, 40, 60, 80, 100)


def error_axis(runs, headroom: float = 1.25) -> tuple[float, float]:
    """The error axis (0, top): top the smallest of ERROR_AXIS_TOPS at least `headroom` times
    every run's last logged training and test error and its final test error, so the ends the
    figure compares fill it (early, higher errors run off the top, as in the paper's figure)."""
    ends = [error for run in runs for error in (run.final_error("train_running"),
                                                run.logged_test()["error"], run.final_error("test"))]
    need = headroom * max(ends, default=100.0)
    return 0, next((top for top in ERROR_AXIS_TOPS if top >= need), 100)


def training_curves(runs_by_panel: dict[str, list], ylim=None, title: str | None = None):
    """He et al. 2015 Fig. 6 style: one panel per family, training error thin, test error bold,
    one colour per depth (seeds share a colour); the error axis from error_axis unless given."""
    fig, axes = plt.subplots(1, len(runs_by_panel), figsize=(5.2 * len(runs_by_panel), 3.9),
                             sharey=True, squeeze=False)
    all_runs = [r for runs in runs_by_panel.values() for r in runs]
    ylim = ylim or error_axis(all_runs)
    for ax, (panel, runs) in zip(axes[0], runs_by_panel.items()):
        depths = sorted({r.summary["depth"] for r in runs})
        colours = dict(zip(depths, plt.cm.viridis_r([0.15 + 0.8 * i / max(1, len(depths) - 1)
                                                     for i in range(len(depths))])))
        for run in runs:
            m, d = run.metrics, run.summary["depth"]
            tr = m[m["split"] == "train_running"]
            te = m[m["split"] == "test"]
            ax.plot(tr["iteration"], tr["error"], lw=0.8, color=colours[d], alpha=0.8)
            label = f"{panel}-{d}" if run.summary["seed"] == min(r.summary["seed"] for r in runs) else None
            ax.plot(te["iteration"], te["error"], lw=2.2, color=colours[d], label=label)
            _final_test_dot(ax, run, colours[d])
        ax.set_title(panel)
        ax.set_xlabel("iteration")
        ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("error (%)")
    note = f"thin: training error (running mean, augmented); {_test_note(all_runs)}"
    fig.suptitle(f"{title}\n{note}" if title else note, fontsize=9)
    fig.tight_layout()
    return fig


def save(fig, path) -> None:
    """Write a figure atomically, with fixed metadata so an unchanged figure diffs clean."""
    import io
    from pathlib import Path

    from . import atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, metadata={"Software": None})
    atomic.write_bytes(Path(path), buf.getvalue())


def grouped_points(df, group: str, category: str, value: str, order=None, title: str | None = None,
                   ylabel: str = "test error (%)", reference: dict | None = None):
    """One panel per `group` value (e.g. depth): each `category` (e.g. shortcut option) as its
    seeds' points with mean +- sd; `reference` draws a horizontal line per category."""
    import numpy as np

    groups = sorted(df[group].unique())
    order = order or sorted(df[category].unique())
    fig, axes = plt.subplots(1, len(groups), figsize=(max(3.2, 0.55 * len(order) + 1.6) * len(groups), 3.6),
                             sharey=True, squeeze=False)
    for ax, g in zip(axes[0], groups):
        sub = df[df[group] == g]
        for i, c in enumerate(order):
            y = sub.loc[sub[category] == c, value].to_numpy()
            if not len(y):
                continue
            ax.scatter(np.full(len(y), i) + np.linspace(-0.08, 0.08, len(y)), y, s=14, color="0.4", zorder=3)
            ax.errorbar(i + 0.22, y.mean(), yerr=y.std(ddof=1) if len(y) > 1 else 0, fmt="o",
                        color="C0", capsize=3, zorder=4)
            if reference and c in reference and reference[c] is not None:
                ax.hlines(reference[c], i - 0.3, i + 0.3, color="C3", lw=1.5)
        ax.set_xticks(range(len(order)), order, rotation=45 if max(map(len, map(str, order))) > 3 else 0,
                      ha="right" if max(map(len, map(str, order))) > 3 else "center", fontsize=8)
        ax.set_title(f"{group} {g}")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel(ylabel)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def curves_by_label(panels: dict[str, list[tuple[str, object]]], ylim=None, title: str | None = None):
    """One panel per entry; each (label, run) pair drawn in its own colour: training error thin,
    test error bold. Runs that share a label (seeds) share a colour; the first carries the label.
    The error axis from error_axis unless given."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.2), sharey=True, squeeze=False)
    all_runs = [run for pairs in panels.values() for _, run in pairs]
    ylim = ylim or error_axis(all_runs)
    for ax, (panel, pairs) in zip(axes[0], panels.items()):
        labels = list(dict.fromkeys(label for label, _ in pairs))
        colours = dict(zip(labels, plt.cm.tab10.colors))
        seen = set()
        for label, run in pairs:
            m = run.metrics
            tr, te = m[m["split"] == "train_running"], m[m["split"] == "test"]
            ax.plot(tr["iteration"], tr["error"], lw=0.7, color=colours[label], alpha=0.6)
            ax.plot(te["iteration"], te["error"], lw=2.0, color=colours[label],
                    label=None if label in seen else label)
            _final_test_dot(ax, run, colours[label])
            seen.add(label)
        ax.set_title(panel)
        ax.set_xlabel("iteration")
        ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("error (%)")
    note = f"thin: training error (running mean, augmented); {_test_note(all_runs)}"
    fig.suptitle(f"{title}\n{note}" if title else note, fontsize=9)
    fig.tight_layout()
    return fig


def layer_responses(layers, title: str | None = None):
    """He et al. 2015 Fig. 7: std of each 3x3 layer's response, by layer index (top) and sorted
    by magnitude (bottom); plain nets dashed, ResNets solid, one colour per depth."""
    fig, axes = plt.subplots(2, 1, figsize=(7.5, 6.4))
    depths = sorted(layers["depth"].unique())
    colours = dict(zip(depths, plt.cm.viridis_r([0.15 + 0.8 * i / max(1, len(depths) - 1)
                                                 for i in range(len(depths))])))
    for (family, depth), g in layers.groupby(["family", "depth"]):
        g = g.groupby("layer_index")["std"].mean()  # mean over seeds
        style = dict(color=colours[depth], ls="--" if family == "plain" else "-", lw=1.3,
                     label=f"{family}-{depth}")
        axes[0].plot(g.index, g.values, **style)
        axes[1].plot(range(1, len(g) + 1), sorted(g.values, reverse=True), **style)
    axes[0].set_xlabel("layer index (3x3 convs in forward order)")
    axes[1].set_xlabel("layer index (sorted by magnitude)")
    for ax in axes:
        ax.set_ylabel("std")
        ax.set_yscale("log")  # a few plain layers respond 10x more than the rest
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7, ncol=2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def lesion_panels(single, deletion_means, swaps, title: str | None = None):
    """Veit et al. 2016 Figs. 3-5: error per deleted unit (ResNet and plain), error vs number of
    deleted units (`deletion_means`: claims.lesion_study.deletion_means, one curve per group of
    draws), error vs Kendall tau of a reordering."""

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.9))
    ax = axes[0]
    for family, marker in (("resnet", "o"), ("plain", "s")):
        g = single[(single["family"] == family) & (single["deleted_unit"] >= 0)]
        if g.empty:
            continue
        base = single[(single["family"] == family) & (single["deleted_unit"] < 0)]["error"].iloc[0]
        line, = ax.plot(g["deleted_unit"], g["error"], marker=marker, ms=3.5, lw=1, label=f"{family}: one unit deleted")
        ax.axhline(base, color=line.get_color(), ls=":", lw=1)
        d = g[g["downsampling"]]
        ax.scatter(d["deleted_unit"], d["error"], s=70, facecolors="none", edgecolors="C3", zorder=4)
    ax.scatter([], [], s=70, facecolors="none", edgecolors="C3", label="downsampling unit")
    ax.set_xlabel("deleted unit")
    ax.set_ylabel("test error (%)")
    ax.legend(fontsize=7)
    ax.set_title("deleting one unit (dotted: intact net)")
    ax = axes[1]
    # every draw, and where the table says which, the draws that spare the downsampling units:
    # the curve the verdict judges for smoothness (claims/lesion_study.py)
    for i, group in enumerate(deletion_means.columns.unique(0)):
        m = deletion_means[group]
        label = group + (" (the verdict's)" if i else "")
        ax.errorbar(m.index + 0.12 * i, m["mean"], yerr=m["std"], marker="o", ms=3.5, capsize=2,
                    lw=1, label=label)
    resnet_base = single[(single["family"] == "resnet") & (single["deleted_unit"] < 0)]["error"]
    if len(resnet_base):
        ax.scatter([0], resnet_base.iloc[:1], marker="*", s=60, color="k", zorder=4, label="intact net")
    ax.legend(fontsize=7)
    ax.set_xlabel("number of units deleted")
    ax.set_title("deleting k random units (mean +- sd of the draws)")
    ax = axes[2]
    dots = ax.scatter(swaps["kendall_tau"], swaps["error"], s=10, c=swaps["k"], cmap="viridis")
    fig.colorbar(dots, ax=ax, label="pairs swapped")
    ax.set_xlabel("Kendall tau of the unit order")
    ax.invert_xaxis()
    ax.set_title("swapping random pairs of units")
    for a in axes:
        a.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def path_gradients(table, grads, title: str | None = None):
    """Veit et al. 2016 Fig. 6: (a) distribution of path lengths, (b) gradient norm per path
    length, (c) total gradient per path length."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.7))
    axes[0].bar(table["k"], table["path_share"], color="C0")
    axes[0].set_title("path lengths: Binomial(n, 1/2)")
    axes[0].set_ylabel("share of paths")
    axes[1].scatter(grads["k"], grads["grad_norm"], s=4, alpha=0.3, color="0.5")
    axes[1].plot(table["k"], table["mean_grad_norm"], color="C1", marker="o", ms=3)
    axes[1].set_yscale("log")
    axes[1].set_title("gradient norm through paths of length k")
    axes[2].bar(table["k"], table["contribution_share"], color="C2")
    axes[2].set_title("total gradient per length (paths x mean)")
    for a in axes:
        a.set_xlabel("path length (units whose branch the path takes)")
        a.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
