"""Statistics for verdicts: a trend with depth and whether it stands out from run-to-run noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st


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
    groups = [y[x == v] for v in np.unique(x)]
    within_dof = sum(len(g) - 1 for g in groups)
    if within_dof > 0:
        noise_var = sum(((g - g.mean()) ** 2).sum() for g in groups) / within_dof
        source, dof = f"pooled sd over seeds ({within_dof} dof)", within_dof
    else:
        resid = y - (slope * x + intercept)
        noise_var = (resid ** 2).sum() / (n - 2)
        source, dof = f"scatter about the fitted line ({n - 2} dof; one seed per depth)", n - 2
    sxx = ((x - x.mean()) ** 2).sum()
    se = float(np.sqrt(noise_var / sxx))
    t = float(_st.t.ppf(0.975, dof))
    return Trend(float(slope), se, (float(slope - t * se), float(slope + t * se)),
                 float(np.sqrt(noise_var)), source, dof, n)
