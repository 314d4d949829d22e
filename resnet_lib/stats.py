"""Statistics for verdicts, in one place: seed noise pooled over groups, 95% t intervals for a
mean and for a difference of means, and a trend with depth judged against run-to-run noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st


CONFIDENCE = 0.95  # every interval in the verdicts is a two-sided 95% interval


def t_quantile(dof: int) -> float:
    """The t quantile of a two-sided CONFIDENCE interval with `dof` degrees of freedom."""
    return float(_st.t.ppf(0.5 + CONFIDENCE / 2, dof))


def pooled_sd(groups) -> tuple[float | None, int]:
    """Seed noise: the sd within groups (e.g. runs of one model that differ only in seed),
    pooled over the groups, and its degrees of freedom (None, 0 without two runs in a group)."""
    groups = [np.asarray(g, float) for g in groups]
    dof = sum(len(g) - 1 for g in groups)
    if dof <= 0:
        return None, 0
    return float(np.sqrt(sum(((g - g.mean()) ** 2).sum() for g in groups) / dof)), dof


def mean_interval(values) -> tuple[float, tuple[float, float] | None]:
    """Mean of `values` (e.g. paired differences, or one slope per batch) with its 95% t
    interval from their own scatter; no interval for fewer than two values."""
    v = np.asarray(values, float)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, None
    half = t_quantile(len(v) - 1) * float(v.std(ddof=1)) / np.sqrt(len(v))
    return mean, (mean - half, mean + half)


def difference_half_width(noise_sd: float, dof: int, *sizes: int) -> float:
    """Half-width of the 95% interval of a difference of means of groups of `sizes` runs each
    (two: a difference, one per mean), each with seed noise `noise_sd` estimated with `dof`."""
    return t_quantile(dof) * noise_sd * float(np.sqrt(sum(1 / n for n in sizes)))


@dataclass
class Trend:
    """Least-squares slope of y on x, with the noise it is judged against."""

    slope: float          # change of y per unit of x
    stderr: float         # standard error of the slope
    ci95: tuple[float, float]
    noise_sd: float       # run-to-run sd of y at fixed x
    noise_source: str     # how noise_sd was estimated
    dof: int
    n: int

    @property
    def significant(self) -> bool:
        """True when the 95% interval of the slope excludes zero."""
        return self.ci95[0] > 0 or self.ci95[1] < 0


def depth_trend(x, y) -> Trend:
    """Slope of y (error) on x (depth) over all runs, each seed its own point.

    The noise is the pooled within-depth sd where some depth has two or more seeds (seed
    noise, measured directly). With one run per depth it is the residual sd about the line,
    which also holds any curvature of the trend, so the test errs on the side of "not shown".
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    if n < 3 or len(np.unique(x)) < 2:
        raise ValueError("a trend needs at least 3 runs at 2 or more depths")
    slope, intercept = np.polyfit(x, y, 1)
    within_sd, within_dof = pooled_sd([y[x == v] for v in np.unique(x)])
    if within_dof > 0:
        noise_var = within_sd ** 2
        source, dof = f"pooled sd over seeds ({within_dof} dof)", within_dof
    else:
        resid = y - (slope * x + intercept)
        noise_var = (resid ** 2).sum() / (n - 2)
        source, dof = f"scatter about the fitted line ({n - 2} dof; one seed per depth)", n - 2
    sxx = ((x - x.mean()) ** 2).sum()
    se = float(np.sqrt(noise_var / sxx))
    t = t_quantile(dof)
    return Trend(float(slope), se, (float(slope - t * se), float(slope + t * se)),
                 float(np.sqrt(noise_var)), source, dof, n)
