"""Ranked only with evidence: models with too few votes are *provisional*.

A model with fewer than ``min_votes`` rated votes (after the tie / both-bad rule) gets no
rating, interval or rank: it is listed with its votes and win rate only, and its votes leave
the fit, so it cannot move the other models' ratings or intervals either (a model with few
votes would otherwise switch the regularising prior on in many bootstrap rounds and join the
mean-centring). A model without votes never enters a fit at all.

One pass, no iteration: the threshold is applied to each model's votes against *all*
opponents, then every vote that involves a provisional model is left out. The site
(:mod:`arena.leaderboards`) and the command line (``python -m ratings --min-votes N``) use
this same function, so the site's board equals the published recipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.outcomes import Battles

__all__ = ["ProvisionalRow", "provisional_mask", "provisional_rows", "split_provisional"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ProvisionalRow:
    """A model listed without a rank: its vote counts (ties include both-bad) and the share
    it won, ties counted half."""

    model: str
    votes: int
    wins: int
    ties: int
    losses: int

    @property
    def win_rate(self) -> float | None:
        return (self.wins + 0.5 * self.ties) / self.votes if self.votes else None


def provisional_mask(
    num_models: int,
    model_a: npt.ArrayLike,
    model_b: npt.ArrayLike,
    count: npt.ArrayLike | None = None,
    *,
    min_votes: int,
) -> BoolArray:
    """True for each model with fewer than ``min_votes`` votes (``count`` votes per row,
    default one), zero-vote models included."""
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    n = np.ones(a.shape[0]) if count is None else np.asarray(count, dtype=np.float64)
    votes = np.bincount(a, n, num_models) + np.bincount(b, n, num_models)
    mask: BoolArray = np.rint(votes) < max(int(min_votes), 1)
    return mask


def provisional_rows(
    models: Sequence[str],
    model_a: npt.ArrayLike,
    model_b: npt.ArrayLike,
    outcome: npt.ArrayLike,
    count: npt.ArrayLike | None,
    which: BoolArray,
) -> list[ProvisionalRow]:
    """Counts of the models in ``which`` (outcomes as :class:`~ratings.Winner`: 0 a wins,
    1 b wins, 2 tie, 3 both bad), most votes first, then by name."""
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    out = np.asarray(outcome, dtype=np.int64)
    n = np.ones(a.shape[0]) if count is None else np.asarray(count, dtype=np.float64)
    m = len(models)

    def per(idx: IntArray, mask: BoolArray) -> npt.NDArray[np.float64]:
        sums: npt.NDArray[np.float64] = np.bincount(idx[mask], n[mask], m).astype(np.float64)
        return sums

    wins = per(a, out == 0) + per(b, out == 1)
    losses = per(a, out == 1) + per(b, out == 0)
    ties = per(a, out >= 2) + per(b, out >= 2)
    rows = [
        ProvisionalRow(
            models[k],
            int(round(wins[k] + ties[k] + losses[k])),
            int(round(wins[k])),
            int(round(ties[k])),
            int(round(losses[k])),
        )
        for k in np.flatnonzero(which)
    ]
    return sorted(rows, key=lambda r: (-r.votes, r.model))


def split_provisional(battles: Battles, *, min_votes: int) -> tuple[Battles, list[ProvisionalRow]]:
    """The battles between ranked models only (their ``models`` reduced to those ranked) and
    the provisional models' rows. ``battles`` should already be filtered by the tie rule."""
    which = provisional_mask(
        battles.num_models, battles.model_a, battles.model_b, min_votes=min_votes
    )
    rows = provisional_rows(
        battles.models, battles.model_a, battles.model_b, battles.winner, None, which
    )
    ranked = np.flatnonzero(~which)
    new_index = np.full(battles.num_models, -1, dtype=np.int64)
    new_index[ranked] = np.arange(ranked.shape[0])
    keep = ~which[battles.model_a] & ~which[battles.model_b]
    kept = Battles(
        tuple(battles.models[k] for k in ranked),
        new_index[battles.model_a[keep]],
        new_index[battles.model_b[keep]],
        battles.winner[keep],
        None if battles.weights is None else battles.weights[keep],
    )
    return kept, rows
