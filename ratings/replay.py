"""Online Elo replayed over integer columns, for many boards in one pass.

Online Elo depends on vote order, so it cannot be vectorised over votes; this is the
tightest pure-Python loop over plain lists (no numba), fed by numpy columns. Every vote
updates the ``overall`` table and, when it has a group (a prompt category), that group's
table too, so the arena board and all category boards cost one pass. The counts (votes,
wins, losses, ties) need no loop: they are ``bincount`` over the same columns.

The arithmetic is FastChat's ``compute_online_elo`` (K=4, scale 400, base 10), written as
``delta = k * (score - expected)``, ``a += delta``, ``b -= delta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["EloTable", "elo_replay"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_SCORE = (1.0, 0.0, 0.5, 0.5)  # Winner.A, Winner.B, Winner.TIE, Winner.BOTH_BAD


@dataclass(frozen=True, eq=False)
class EloTable:
    """Ratings and counts per (board, model): row 0 is the overall board, row ``g + 1`` the
    board of group ``g``. Models without votes keep the initial rating."""

    ratings: FloatArray  # (groups + 1, models)
    votes: IntArray
    wins: IntArray
    losses: IntArray
    ties: IntArray


def elo_replay(
    model_a: npt.ArrayLike,
    model_b: npt.ArrayLike,
    outcome: npt.ArrayLike,
    *,
    num_models: int,
    group: npt.ArrayLike | None = None,
    num_groups: int = 0,
    both_bad_counts: bool = True,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float = 1000.0,
    resume_from: npt.ArrayLike | None = None,
    resume_at: int = 0,
) -> EloTable:
    """Replay votes in the given order.

    Parameters
    ----------
    model_a, model_b
        Model indices (``0 … num_models - 1``) of the left and right side, in vote order.
    outcome
        :class:`ratings.Winner` values (0 left won, 1 right won, 2 tie, 3 both bad).
    group
        Optional group of each vote (``-1``: none, else ``0 … num_groups - 1``).
    both_bad_counts
        ``False``: "both bad" votes are skipped entirely (they neither move ratings nor
        count), as an arena that does not count them as ties wants.
    resume_from, resume_at
        Resume a replay: ``resume_from`` holds the ratings (``(num_groups + 1, num_models)``)
        after the first ``resume_at`` votes given, which are not replayed again (their counts
        are still counted). The result is the same, bit for bit, as a replay from the start.

    References
    ----------
    Elo (1978); FastChat ``fastchat/serve/monitor/elo_analysis.py``.
    """
    a = np.asarray(model_a, dtype=np.int64).reshape(-1)
    b = np.asarray(model_b, dtype=np.int64).reshape(-1)
    out = np.asarray(outcome, dtype=np.int64).reshape(-1)
    g = (np.full(a.shape[0], -1, dtype=np.int64) if group is None
         else np.asarray(group, dtype=np.int64).reshape(-1))
    if not (a.shape == b.shape == out.shape == g.shape):
        raise ValueError("model_a, model_b, outcome and group must have the same length")
    m = int(num_models)
    boards = int(num_groups) + 1
    if not 0 <= resume_at <= a.shape[0]:
        raise ValueError("resume_at must be between 0 and the number of votes")
    new = np.arange(a.shape[0]) >= resume_at
    if not both_bad_counts:
        keep = out != 3
        a, b, out, g, new = a[keep], b[keep], out[keep], g[keep], new[keep]
    if resume_from is None:
        flat = [float(initial)] * (boards * m)
    else:
        start = np.asarray(resume_from, dtype=np.float64)
        if start.shape != (boards, m):
            raise ValueError(f"resume_from must have shape ({boards}, {m})")
        flat = start.reshape(-1).tolist()
    score = np.asarray(_SCORE)[out]
    has_group = g >= 0
    _replay(flat, a[new], b[new], score[new], k=k, factor=math.log(base) / scale)
    # The category boards are disjoint sequences in one flat table: offset the indices.
    sel = has_group & new
    offs = (g[sel] + 1) * m
    _replay(flat, offs + a[sel], offs + b[sel], score[sel], k=k, factor=math.log(base) / scale)
    ratings = np.asarray(flat, dtype=np.float64).reshape(boards, m)
    win_a = (out == 0).astype(np.int64)
    win_b = (out == 1).astype(np.int64)
    tie = (out >= 2).astype(np.int64)
    board = g + 1

    def per_board(weights_a: IntArray, weights_b: IntArray) -> IntArray:
        """Per (board, model) sums: every vote counts on the overall board and on its
        group's board."""
        total = np.zeros(boards * m, dtype=np.float64)
        for sel, offs in ((slice(None), 0), (has_group, board[has_group] * m)):
            total += np.bincount(offs + a[sel], weights_a[sel], boards * m)
            total += np.bincount(offs + b[sel], weights_b[sel], boards * m)
        return total.astype(np.int64).reshape(boards, m)

    ones = np.ones(a.shape[0], dtype=np.int64)
    return EloTable(
        ratings=ratings,
        votes=per_board(ones, ones),
        wins=per_board(win_a, win_b),
        losses=per_board(win_b, win_a),
        ties=per_board(tie, tie),
    )


def _replay(flat: list[float], a: IntArray, b: IntArray, score: FloatArray, *, k: float,
            factor: float) -> None:
    """The order-dependent loop, in place on ``flat`` (about a microsecond per vote)."""
    exp = math.exp
    for ia, ib, s in zip(a.tolist(), b.tolist(), score.tolist(), strict=True):
        ra, rb = flat[ia], flat[ib]
        d = k * (s - 1.0 / (1.0 + exp((rb - ra) * factor)))
        flat[ia] = ra + d
        flat[ib] = rb - d
