"""Pairwise matrices for display: battle counts, observed and predicted win rates."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ratings.counts import PairCounts

__all__ = ["average_win_rate", "battle_count_matrix", "win_fraction_matrix"]

FloatArray = npt.NDArray[np.float64]


def battle_count_matrix(counts: PairCounts) -> npt.NDArray[np.int64]:
    """Symmetric ``(m, m)`` matrix of battle counts between each pair (diagonal 0)."""
    m = counts.num_models
    out = np.zeros((m, m), dtype=np.int64)
    out[counts.pair_i, counts.pair_j] = counts.votes
    out[counts.pair_j, counts.pair_i] = counts.votes
    return out


def win_fraction_matrix(counts: PairCounts) -> FloatArray:
    """Observed share of battles the row model won against the column model.

    Ties (both kinds) count half; weighted when the battles carry weights. Pairs that never
    met, and the diagonal, are ``nan``.
    """
    m = counts.num_models
    wi, wj = counts.effective_wins()
    n = wi + wj
    out = np.full((m, m), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[counts.pair_i, counts.pair_j] = wi / n
        out[counts.pair_j, counts.pair_i] = wj / n
    return out


def average_win_rate(prob: FloatArray) -> FloatArray:
    """Mean over the other models of a win-probability matrix (ignores the diagonal and
    ``nan`` entries, e.g. predicted ``P(win)`` against a uniformly drawn opponent)."""
    p = np.array(prob, dtype=np.float64)
    np.fill_diagonal(p, np.nan)
    with np.errstate(invalid="ignore"):
        valid = ~np.isnan(p)
        total = np.where(valid, p, 0.0).sum(axis=1)
        k = valid.sum(axis=1)
        return np.where(k > 0, total / np.maximum(k, 1), np.nan)
