"""Online (sequential) Elo, exactly as FastChat's ``compute_online_elo``.

Online Elo depends on battle order, so it cannot be vectorised over battles; the point
estimate is a tight loop over Python lists (about a second per million battles). The
bootstrap instead vectorises over rounds: every round replays its own resampled sequence,
one battle index at a time, for all rounds at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.outcomes import Battles, Winner

__all__ = ["DEFAULT_ELO", "EloParams", "bootstrap_online_elo", "compute_online_elo"]


@dataclass(frozen=True)
class EloParams:
    """Online Elo constants (FastChat defaults)."""

    k: float = 4.0
    scale: float = 400.0
    base: float = 10.0
    initial: float = 1000.0


DEFAULT_ELO = EloParams()
"""FastChat's constants: K=4, scale 400, base 10, initial rating 1000."""


def compute_online_elo(
    battles: Battles, params: EloParams = DEFAULT_ELO
) -> npt.NDArray[np.float64]:
    """Online Elo ratings, one per model in ``battles.models``.

    For every battle in order: ``ea = 1 / (1 + base**((rb - ra) / scale))``,
    ``eb = 1 / (1 + base**((ra - rb) / scale))``, ``sa`` is 1, 0 or 0.5 (tie and both-bad),
    ``ra += k * (sa - ea)``, ``rb += k * (1 - sa - eb)``. Models without battles keep the
    initial rating.

    References
    ----------
    Chiang et al., "Chatbot Arena", 2024; FastChat ``fastchat/serve/monitor/elo_analysis.py``.
    """
    k, scale, base = float(params.k), float(params.scale), float(params.base)
    rating = [float(params.initial)] * battles.num_models
    score = {
        int(Winner.A): 1.0,
        int(Winner.B): 0.0,
        int(Winner.TIE): 0.5,
        int(Winner.BOTH_BAD): 0.5,
    }
    scores = [score[w] for w in battles.winner.tolist()]
    for a, b, sa in zip(battles.model_a.tolist(), battles.model_b.tolist(), scores, strict=True):
        ra = rating[a]
        rb = rating[b]
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        rating[a] = ra + k * (sa - ea)
        rating[b] = rb + k * (1 - sa - eb)
    return np.asarray(rating, dtype=np.float64)


def bootstrap_online_elo(
    battles: Battles,
    rounds: int,
    rng: np.random.Generator,
    params: EloParams = DEFAULT_ELO,
    chunk: int = 256,
) -> npt.NDArray[np.float64]:
    """Online Elo on ``rounds`` resamples (with replacement, random order) of ``battles``.

    Matches FastChat's ``get_bootstrap_result(battles, compute_online_elo)`` in
    distribution: each round draws ``len(battles)`` battles uniformly with replacement (which
    also shuffles their order) and replays them. Returns an array ``(rounds, models)``.
    Cost is O(rounds × battles) arithmetic but only O(battles) Python steps per chunk.
    """
    n = len(battles)
    m = battles.num_models
    k, scale, base = float(params.k), float(params.scale), float(params.base)
    sa_all = np.where(
        battles.winner == Winner.A, 1.0, np.where(battles.winner == Winner.B, 0.0, 0.5)
    )
    out = np.empty((rounds, m), dtype=np.float64)
    log_base = np.log(base)
    for start in range(0, rounds, chunk):
        r = min(chunk, rounds - start)
        idx = rng.integers(0, n, size=(n, r))
        a_idx = battles.model_a[idx]  # (n, r)
        b_idx = battles.model_b[idx]
        sa_seq = sa_all[idx]
        rating = np.full((r, m), float(params.initial))
        flat = rating.reshape(-1)
        offs = np.arange(r) * m
        for t in range(n):
            ia = offs + a_idx[t]
            ib = offs + b_idx[t]
            ra = flat[ia]
            rb = flat[ib]
            diff = (rb - ra) * (log_base / scale)
            ea = 1 / (1 + np.exp(diff))
            eb = 1 / (1 + np.exp(-diff))
            sa = sa_seq[t]
            flat[ia] = ra + k * (sa - ea)
            flat[ib] = rb + k * (1 - sa - eb)
        out[start : start + r] = rating
    return out
