"""Online Elo replayed over integer columns, for many boards in one pass.

Online Elo depends on vote order, so it cannot be vectorised over votes; this is the
tightest pure-Python loop over plain lists (no numba), fed by numpy columns. Every vote
updates the ``overall`` table and, when it has a group (a prompt category), that group's
table too, so the arena board and all category boards cost one pass. The counts (votes,
wins, losses, ties) need no loop: they are ``bincount`` over the same columns.

The arithmetic is :func:`ratings.elo.replay_in_place`, the project's one Elo loop
(FastChat's ``compute_online_elo``: K=4, scale 400, base 10), so every board here equals
:func:`ratings.elo.online_elo` on the same votes, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.elo import replay_in_place, score_of_winner
from ratings.outcomes import Winner

__all__ = ["EloTable", "elo_replay"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


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
    g = (
        np.full(a.shape[0], -1, dtype=np.int64)
        if group is None
        else np.asarray(group, dtype=np.int64).reshape(-1)
    )
    if not (a.shape == b.shape == out.shape == g.shape):
        raise ValueError("model_a, model_b, outcome and group must have the same length")
    m = int(num_models)
    boards = int(num_groups) + 1
    if not 0 <= resume_at <= a.shape[0]:
        raise ValueError("resume_at must be between 0 and the number of votes")
    new = np.arange(a.shape[0]) >= resume_at
    if not both_bad_counts:
        keep = out != Winner.BOTH_BAD
        a, b, out, g, new = a[keep], b[keep], out[keep], g[keep], new[keep]
    if resume_from is None:
        flat = [float(initial)] * (boards * m)
    else:
        start = np.asarray(resume_from, dtype=np.float64)
        if start.shape != (boards, m):
            raise ValueError(f"resume_from must have shape ({boards}, {m})")
        flat = start.reshape(-1).tolist()
    score = score_of_winner(out)
    has_group = g >= 0
    replay_in_place(
        flat, a[new].tolist(), b[new].tolist(), score[new].tolist(), k=k, scale=scale, base=base
    )
    # The category boards are disjoint sequences in one flat table: offset the indices.
    sel = has_group & new
    offs = (g[sel] + 1) * m
    replay_in_place(
        flat,
        (offs + a[sel]).tolist(),
        (offs + b[sel]).tolist(),
        score[sel].tolist(),
        k=k,
        scale=scale,
        base=base,
    )
    ratings = np.asarray(flat, dtype=np.float64).reshape(boards, m)
    win_a = (out == Winner.A).astype(np.int64)
    win_b = (out == Winner.B).astype(np.int64)
    tie = (out >= Winner.TIE).astype(np.int64)
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
