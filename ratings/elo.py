"""Online (sequential) Elo, exactly as FastChat's ``compute_online_elo``.

Online Elo depends on battle order, so it cannot be vectorised over battles, and the
reference arithmetic is Python's (C ``pow`` on doubles, two per battle); numpy's SIMD
``power``/``exp`` can round differently in the last bit, which an order-dependent replay
then carries forward. So the point estimate is one tight loop over Python lists with local
variables (≈0.3 s per million battles; iterating numpy scalars is 3× slower, and a loop
that computes one power and reuses it for the other side is not bit-identical). The
bootstrap instead vectorises over rounds: every round replays its own resampled sequence,
one battle index at a time, for all rounds at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

from ratings.errors import RatingsError
from ratings.outcomes import Battles

__all__ = [
    "DEFAULT_ELO",
    "EloParams",
    "bootstrap_online_elo",
    "compute_online_elo",
    "elo_expected",
    "elo_update",
    "online_elo",
    "replay_in_place",
    "score_of_winner",
]


@dataclass(frozen=True)
class EloParams:
    """Online Elo constants (FastChat defaults)."""

    k: float = 4.0
    scale: float = 400.0
    base: float = 10.0
    initial: float = 1000.0


DEFAULT_ELO = EloParams()
"""FastChat's constants: K=4, scale 400, base 10, initial rating 1000."""

_SCORE_OF_WINNER = np.array([1.0, 0.0, 0.5, 0.5])  # indexed by Winner: A, B, TIE, BOTH_BAD


def score_of_winner(winner: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Model A's score per battle from :class:`~ratings.Winner` codes: 1, 0, or ½ for both
    kinds of tie."""
    return _SCORE_OF_WINNER[np.asarray(winner, dtype=np.intp)]


def online_elo(
    a_idx: npt.ArrayLike,
    b_idx: npt.ArrayLike,
    score_a: npt.ArrayLike,
    n_models: int,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float | npt.ArrayLike = 1000.0,
) -> npt.NDArray[np.float64]:
    """Replay battles in order and return the final online Elo rating of every model.

    Parameters
    ----------
    a_idx, b_idx
        Integer model indices in ``[0, n_models)`` of the two sides, one per battle, in
        chronological order.
    score_a
        Side A's score per battle: 1 (A won), 0 (B won), 0.5 (tie). See
        :func:`score_of_winner` to convert :class:`~ratings.Winner` codes.
    n_models
        Length of the result; models without battles keep ``initial``.
    k, scale, base
        Elo constants (FastChat: K=4, scale 400, base 10).
    initial
        Starting rating, one number for all or one per model (to continue an earlier
        replay incrementally: pass its result and only the new battles).

    Returns
    -------
    numpy.ndarray
        ``(n_models,)`` float64 ratings, bit-identical to FastChat's ``compute_online_elo``
        on the same battles: for every battle, ``ea = 1 / (1 + base**((rb - ra) / scale))``,
        ``eb = 1 / (1 + base**((ra - rb) / scale))``, ``ra += k * (sa - ea)``,
        ``rb += k * (1 - sa - eb)``.

    Raises
    ------
    RatingsError
        Arrays of different lengths, an index out of range, a model playing itself, or an
        ``initial`` array of the wrong length.

    References
    ----------
    Elo, "The Rating of Chessplayers" (1978); Chiang et al., "Chatbot Arena" (2024);
    FastChat ``fastchat/serve/monitor/elo_analysis.py``.
    """
    a = np.asarray(a_idx).reshape(-1)
    b = np.asarray(b_idx).reshape(-1)
    sa = np.asarray(score_a, dtype=np.float64).reshape(-1)
    if not (a.shape == b.shape == sa.shape):
        raise RatingsError(f"got {a.shape[0]}, {b.shape[0]} and {sa.shape[0]} values per battle")
    start = np.broadcast_to(np.asarray(initial, dtype=np.float64), (n_models,))
    if a.shape[0]:
        if not (np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer)):
            raise RatingsError("model indices must be integers")
        lo, hi = min(int(a.min()), int(b.min())), max(int(a.max()), int(b.max()))
        if lo < 0 or hi >= n_models:
            raise RatingsError(f"model index out of range [0, {n_models})")
        if np.any(a == b):
            raise RatingsError("a model cannot play itself")
    return np.asarray(
        replay_in_place(
            start.tolist(), a.tolist(), b.tolist(), sa.tolist(), k=k, scale=scale, base=base
        ),
        dtype=np.float64,
    )


def replay_in_place(
    rating: list[float],
    a_list: list[int],
    b_list: list[int],
    s_list: list[float],
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> list[float]:
    """The one online Elo loop: update ``rating`` in place for every battle in order and
    return it. Every Elo number of the project (:func:`online_elo`, :func:`elo_update`,
    :func:`ratings.replay.elo_replay`) goes through here, unchecked (callers validate).

    ``x`` below is FastChat's ``(rb - ra) / scale`` and ``-x`` is exactly its
    ``(ra - rb) / scale`` (IEEE subtraction and division round symmetrically), so both powers
    get the very same arguments as the reference. The expected score is written inline rather
    than calling :func:`elo_expected` (a call per battle would double the loop's cost)."""
    k, scale, base = float(k), float(scale), float(base)
    pow_ = math.pow  # the same C pow() as ``**`` on floats, a quarter faster to call
    for a, b, sa in zip(a_list, b_list, s_list, strict=True):
        ra = rating[a]
        rb = rating[b]
        x = (rb - ra) / scale
        rating[a] = ra + k * (sa - 1 / (1 + pow_(base, x)))
        rating[b] = rb + k * (1 - sa - 1 / (1 + pow_(base, -x)))
    return rating


@overload
def elo_expected(
    rating_a: float, rating_b: float, *, scale: float = ..., base: float = ...
) -> float: ...
@overload
def elo_expected(
    rating_a: npt.NDArray[np.float64],
    rating_b: npt.NDArray[np.float64],
    *,
    scale: float = ...,
    base: float = ...,
) -> npt.NDArray[np.float64]: ...
def elo_expected(
    rating_a: float | npt.NDArray[np.float64],
    rating_b: float | npt.NDArray[np.float64],
    *,
    scale: float = 400.0,
    base: float = 10.0,
) -> float | npt.NDArray[np.float64]:
    """Probability that A beats B under the logistic Elo model,
    ``1 / (1 + base**((rb - ra) / scale))``: for two ratings or elementwise for two arrays."""
    if isinstance(rating_a, np.ndarray) or isinstance(rating_b, np.ndarray):
        diff = (np.asarray(rating_b, dtype=np.float64) - rating_a) / scale
        return np.asarray(1.0 / (1.0 + np.power(base, diff)), dtype=np.float64)
    return 1 / (1 + float(base) ** ((float(rating_b) - float(rating_a)) / scale))


def elo_update(
    rating_a: float,
    rating_b: float,
    score_a: float,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> tuple[float, float]:
    """Both ratings after one game (the step of :func:`replay_in_place`); ``score_a`` is 1
    (A won), 0.5 (tie) or 0."""
    if not 0.0 <= score_a <= 1.0:
        raise RatingsError(f"score_a must be within [0, 1], got {score_a}")
    ra, rb = replay_in_place(
        [float(rating_a), float(rating_b)], [0], [1], [float(score_a)], k=k, scale=scale, base=base
    )
    return ra, rb


def compute_online_elo(
    battles: Battles, params: EloParams = DEFAULT_ELO
) -> npt.NDArray[np.float64]:
    """Online Elo ratings, one per model in ``battles.models``.

    For every battle in order: ``ea = 1 / (1 + base**((rb - ra) / scale))``,
    ``eb = 1 / (1 + base**((ra - rb) / scale))``, ``sa`` is 1, 0 or 0.5 (tie and both-bad),
    ``ra += k * (sa - ea)``, ``rb += k * (1 - sa - eb)``. Models without battles keep the
    initial rating. (:func:`online_elo` on the index arrays.)

    References
    ----------
    Chiang et al., "Chatbot Arena", 2024; FastChat ``fastchat/serve/monitor/elo_analysis.py``.
    """
    rating = replay_in_place(
        [float(params.initial)] * battles.num_models,
        battles.model_a.tolist(),
        battles.model_b.tolist(),
        score_of_winner(battles.winner).tolist(),
        k=params.k,
        scale=params.scale,
        base=params.base,
    )
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
    sa_all = score_of_winner(battles.winner)
    out = np.empty((rounds, m), dtype=np.float64)
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
            ea = elo_expected(ra, rb, scale=scale, base=base)
            eb = elo_expected(rb, ra, scale=scale, base=base)
            sa = sa_seq[t]
            flat[ia] = ra + k * (sa - ea)
            flat[ib] = rb + k * (1 - sa - eb)
        out[start : start + r] = rating
    return out
