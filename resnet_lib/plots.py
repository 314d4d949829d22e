"""Figures, drawn from stored metrics only (restyling never retrains)."""

from __future__ import annotations

import matplotlib.pyplot as plt


def training_curves(runs_by_panel: dict[str, list], ylim=(0, 100), title: str | None = None):
    """He et al. 2015 Fig. 6 style: one panel per family, training error thin, test error bold,
    one colour per depth (seeds share a colour)."""
    fig, axes = plt.subplots(1, len(runs_by_panel), figsize=(5.2 * len(runs_by_panel), 3.9),
                             sharey=True, squeeze=False)
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
        ax.set_title(panel)
        ax.set_xlabel("iteration")
        ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("error (%)")
    note = "thin: training error (running mean, augmented); bold: test error"
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
