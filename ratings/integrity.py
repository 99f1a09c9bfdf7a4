"""Statistics that judge voters rather than models: side bias and improbable choices.

Pure numpy/scipy. The site uses these to flag voters whose votes are then kept but not
counted, and to report the position bias of the whole arena.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats


@dataclass(frozen=True)
class Proportion:
    successes: int
    trials: int
    estimate: float | None
    ci_low: float | None
    ci_high: float | None


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> Proportion:
    """Wilson score interval for a binomial proportion (well behaved near 0, 1 and small n).

    Reference: Wilson (1927), "Probable inference, the law of succession, and statistical
    inference", JASA 22(158).
    """
    if trials <= 0:
        return Proportion(successes, trials, None, None, None)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Proportion(
        successes, trials, p, max(0.0, float(centre - half)), min(1.0, float(centre + half))
    )


def side_bias_p_value(left_picks: int, decisive: int) -> float:
    """Two-sided exact binomial p-value that a voter picks left and right equally often."""
    if decisive <= 0:
        return 1.0
    return float(stats.binomtest(left_picks, decisive, 0.5).pvalue)


def improbable_choices_p_value(p_chosen: npt.ArrayLike) -> float:
    """One-sided p-value that a voter's choices are as unlikely as observed under the ratings.

    `p_chosen[i]` is the model probability of the side the voter picked in decisive vote i.
    The statistic is the log-likelihood of the choices, compared with its mean and variance
    under the model (a sum of independent terms, so a normal approximation); recomputed after
    every vote it is a running (sequential) test. Low values mean the voter keeps picking the
    side the ratings find unlikely (random or adversarial voting).
    """
    p = np.clip(np.asarray(p_chosen, dtype=float), 1e-6, 1 - 1e-6)
    if p.size == 0:
        return 1.0
    log_p, log_q = np.log(p), np.log1p(-p)
    observed = log_p.sum()
    mean = (p * log_p + (1 - p) * log_q).sum()
    variance = (p * (1 - p) * (log_p - log_q) ** 2).sum()
    if variance <= 0:
        return 1.0
    z = (observed - mean) / np.sqrt(variance)
    return float(stats.norm.cdf(z))
