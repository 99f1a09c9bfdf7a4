"""Voter statistics from per-voter sums, so a database can aggregate them (no row per vote).

Companion of :mod:`ratings.integrity`, whose ``improbable_choices_p_value`` takes the
chosen-side probabilities of every decisive vote; the statistic only needs three sums of
them, which is what this function takes.
"""

from __future__ import annotations

import math

from scipy import stats

__all__ = ["improbable_choices_p_value_from_sums"]


def improbable_choices_p_value_from_sums(observed: float, mean: float, variance: float) -> float:
    """One-sided p-value of the improbable-choices test from its sums.

    With ``p`` the (clipped) model probability of each chosen side: ``observed = Σ log p``,
    ``mean = Σ [p log p + (1 - p) log(1 - p)]``, ``variance = Σ p (1 - p) (log p - log(1 - p))²``
    (see :func:`ratings.integrity.improbable_choices_p_value` for the reasoning).
    """
    if not variance or variance <= 0:
        return 1.0
    z = (float(observed) - float(mean)) / math.sqrt(float(variance))
    return float(stats.norm.cdf(z))
