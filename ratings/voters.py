"""Voter statistics from per-voter sums, so a database can aggregate them (no row per vote).

Companion of :mod:`ratings.integrity`, whose ``improbable_choices_p_value`` takes the
chosen-side probabilities of every decisive vote; the statistic only needs three sums of
them, which is what this function takes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["improbable_choices_p_value_from_sums", "side_bias_p_values", "voter_counters"]


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


def side_bias_p_values(
    left_picks: npt.ArrayLike, decisive: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """:func:`ratings.integrity.side_bias_p_value` for many voters at once: for p = 1/2 the
    binomial is symmetric, so the two-sided exact p-value is twice the smaller tail (equal to
    ``scipy.stats.binomtest`` up to round-off)."""
    k = np.asarray(left_picks, dtype=np.int64)
    n = np.asarray(decisive, dtype=np.int64)
    tail = 2.0 * stats.binom.cdf(np.minimum(k, n - k), n, 0.5)
    return np.where(n > 0, np.minimum(1.0, tail), 1.0)


def voter_counters(
    voter: npt.ArrayLike, p_left: npt.ArrayLike, chose_left: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], ...] | tuple[npt.NDArray[np.float64], ...]:
    """Per-voter counters of decisive votes, for the side-bias and improbable-choices tests.

    Parameters
    ----------
    voter
        Any integer code of the voter of each decisive vote.
    p_left
        The model probability that the left side wins that vote.
    chose_left
        Whether the voter picked the left side.

    Returns
    -------
    (voters, decisive, left, observed, mean, variance)
        One entry per distinct voter (sorted codes); the last three are the sums
        :func:`improbable_choices_p_value_from_sums` takes (``p`` clipped to [1e-6, 1 - 1e-6],
        as :func:`ratings.integrity.improbable_choices_p_value`).
    """
    codes, index = np.unique(np.asarray(voter), return_inverse=True)
    index = index.reshape(-1)
    left = np.asarray(chose_left, dtype=bool)
    p = np.asarray(p_left, dtype=np.float64)
    p = np.clip(np.where(left, p, 1.0 - p), 1e-6, 1 - 1e-6)
    log_p, log_q = np.log(p), np.log1p(-p)
    k = codes.shape[0]
    return (
        codes,
        np.bincount(index, minlength=k).astype(np.int64),
        np.bincount(index, left.astype(np.float64), k).astype(np.int64),
        np.bincount(index, log_p, k),
        np.bincount(index, p * log_p + (1 - p) * log_q, k),
        np.bincount(index, p * (1 - p) * (log_p - log_q) ** 2, k),
    )
