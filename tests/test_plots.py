"""The figures' error axis: the paper's 0-20% where the nets end low, more where they end high."""

from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from resnet_lib import plots  # noqa: E402


def _run(train_end: float, test_end: float, depth=20, seed=0, final=None):
    """A stored run as the figures read it (store.Run): logged curves that start at 85% error,
    their ends in the summary; `final`, a later evaluation's test error (else the logged one)."""
    metrics = pd.DataFrame({
        "iteration": [0, 1000, 0, 1000],
        "split": ["train_running", "train_running", "test", "test"],
        "error": [85.0, train_end, 85.0, test_end],
    })
    logged = {"error": test_end, "images": 10_000}
    test = logged if final is None else {"error": final, "images": 10_000}
    ends = {"train_running": train_end, "test": test["error"]}
    return SimpleNamespace(metrics=metrics, final_test=test, logged_test=lambda: logged,
                           final_error=ends.__getitem__,
                           summary={"depth": depth, "seed": seed, "iterations": 1000})


@pytest.mark.parametrize("ends, top", [
    ([(0.5, 9.2), (4.6, 13.5)], 20),     # the paper profile's plain nets: the paper's 0-20%
    ([(4.6, 16.5)], 40),                 # 16.5 x 1.25 does not fit under 20
    ([(45.2, 37.6), (74.5, 62.8)], 100),  # the cpu profile's 2 epochs
])
def test_error_axis_fits_the_runs_ends_with_headroom(ends, top):
    assert plots.error_axis([_run(*e) for e in ends]) == (0, top)


def test_error_axis_counts_the_final_test_error_too():
    assert plots.error_axis([_run(2.0, 9.0, final=30.0)]) == (0, 40)


def test_both_curve_figures_use_it_unless_told():
    runs = [_run(0.5, 9.2), _run(0.3, 8.1, depth=56)]
    fig = plots.training_curves({"plain": runs})
    assert fig.axes[0].get_ylim() == (0, 20)
    fig = plots.curves_by_label({"ResNet-20": [("original", runs[0])]}, ylim=(0, 100))
    assert fig.axes[0].get_ylim() == (0, 100)
    fig = plots.curves_by_label({"ResNet-20": [("original", runs[0])]})
    assert fig.axes[0].get_ylim() == (0, 20)
