"""The statistics behind every verdict, on inputs whose answers are known by hand."""

import numpy as np
import pytest
from scipy import stats as st

from resnet_lib import stats


def test_pooled_sd_pools_within_groups_only():
    # group means differ wildly; within each group the deviations are +-1 -> pooled sd sqrt(2)
    sd, dof = stats.pooled_sd([[0.0, 2.0], [100.0, 102.0], [50.0]])
    assert dof == 2 and sd == pytest.approx(np.sqrt(2.0))
    assert stats.pooled_sd([[1.0], [5.0]]) == (None, 0)  # no group with two runs: no estimate


def test_mean_interval_is_the_t_interval():
    v = [1.0, 2.0, 3.0, 6.0]
    mean, (lo, hi) = stats.mean_interval(v)
    half = st.t.ppf(0.975, 3) * np.std(v, ddof=1) / 2
    assert mean == 3.0 and lo == pytest.approx(3 - half) and hi == pytest.approx(3 + half)
    assert stats.mean_interval([4.0]) == (4.0, None)


def test_difference_half_width_of_two_means():
    # sd 2 estimated with 10 dof, groups of 3 and 5: t(10) * 2 * sqrt(1/3 + 1/5)
    assert stats.difference_half_width(2.0, 10, 3, 5) == pytest.approx(
        st.t.ppf(0.975, 10) * 2 * np.sqrt(1 / 3 + 1 / 5))


def test_depth_trend_uses_seed_noise_when_there_are_seeds():
    x = [20, 20, 56, 56]
    y = [10.0, 12.0, 30.0, 32.0]           # slope 20/36 per layer, seed sd sqrt(2)
    t = stats.depth_trend(x, y)
    assert t.slope == pytest.approx(20 / 36)
    assert t.noise_sd == pytest.approx(np.sqrt(2)) and t.dof == 2 and "pooled" in t.noise_source
    assert t.significant
    flat = stats.depth_trend(x, [10.0, 30.0, 12.0, 32.0])  # same noise-free means: no trend
    assert flat.slope == pytest.approx(2 / 36) and not flat.significant


def test_depth_trend_needs_three_runs_at_two_depths():
    with pytest.raises(ValueError):
        stats.depth_trend([20, 20, 20], [1.0, 2.0, 3.0])
