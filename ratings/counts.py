"""Aggregation of battles into per-pair outcome tables.

Everything downstream (Bradley–Terry fit, bootstrap, matrices) works on these O(pairs)
tables instead of O(battles) rows, which is what makes the fits fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.outcomes import Battles, Winner

__all__ = ["BattleCells", "PairCounts", "battle_cells", "pair_counts"]

_DENSE_LIMIT = 40_000_000  # use a dense bincount while 4·m² stays below this many bins


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Outcome totals for every unordered pair ``(pair_i[p], pair_j[p])`` with ``i < j``.

    ``wins_i`` are battles won by ``pair_i``, ``wins_j`` by ``pair_j``; ``ties`` and
    ``both_bad`` are the two kinds of tie. With per-battle weights these are weighted sums;
    ``votes`` always counts battles. Only pairs that met at least once are listed.
    """

    models: tuple[str, ...]
    pair_i: npt.NDArray[np.int64]
    pair_j: npt.NDArray[np.int64]
    wins_i: npt.NDArray[np.float64]
    wins_j: npt.NDArray[np.float64]
    ties: npt.NDArray[np.float64]
    both_bad: npt.NDArray[np.float64]
    votes: npt.NDArray[np.int64]

    @property
    def num_models(self) -> int:
        """Number of models."""
        return len(self.models)

    @property
    def num_pairs(self) -> int:
        """Number of unordered pairs that met at least once."""
        return int(self.pair_i.shape[0])

    @property
    def num_battles(self) -> int:
        """Total number of (unweighted) battles."""
        return int(self.votes.sum())

    def effective_wins(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Wins of ``pair_i`` and of ``pair_j`` with every tie counted as half a win each way."""
        half = 0.5 * (self.ties + self.both_bad)
        return self.wins_i + half, self.wins_j + half

    def per_model(self) -> dict[str, npt.NDArray[np.float64]]:
        """Per-model totals: ``wins``, ``losses``, ``ties`` (both kinds), ``votes``."""
        m = self.num_models
        t = self.ties + self.both_bad
        wins = np.bincount(self.pair_i, self.wins_i, m) + np.bincount(self.pair_j, self.wins_j, m)
        losses = np.bincount(self.pair_i, self.wins_j, m) + np.bincount(self.pair_j, self.wins_i, m)
        ties = np.bincount(self.pair_i, t, m) + np.bincount(self.pair_j, t, m)
        votes = np.bincount(self.pair_i, self.votes, m) + np.bincount(self.pair_j, self.votes, m)
        return {
            name: np.asarray(total, dtype=np.float64)
            for name, total in (
                ("wins", wins),
                ("losses", losses),
                ("ties", ties),
                ("votes", votes),
            )
        }


@dataclass(frozen=True, eq=False)
class BattleCells:
    """Distinct ``(pair, oriented outcome, weight)`` cells with their battle counts.

    Resampling battles with replacement is the same as drawing a multinomial over these
    cells, so a bootstrap round costs O(cells) instead of O(battles). Without weights there
    are at most four cells per pair.
    """

    pair: npt.NDArray[np.int64]
    outcome: npt.NDArray[np.int64]  # 0: pair_i wins, 1: pair_j wins, 2: tie, 3: both bad
    weight: npt.NDArray[np.float64]
    count: npt.NDArray[np.int64]


def _orient(battles: Battles) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return the unordered pair key ``i*m + j`` (i < j) and the outcome seen from ``i``."""
    a, b = battles.model_a, battles.model_b
    m = battles.num_models
    swapped = a > b
    lo = np.where(swapped, b, a)
    hi = np.where(swapped, a, b)
    out = battles.winner.astype(np.int64)
    decisive = out < Winner.TIE
    out = np.where(decisive & swapped, 1 - out, out)
    return lo * m + hi, out


def _pair_index(
    key: npt.NDArray[np.int64], m: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Unique pair keys (sorted) and, for every battle, the index of its pair."""
    if 4 * m * m <= _DENSE_LIMIT:
        present = np.bincount(key, minlength=m * m) > 0
        keys = np.flatnonzero(present)
        lookup = np.cumsum(present) - 1
        return keys, lookup[key]
    keys, inverse = np.unique(key, return_inverse=True)
    return keys, inverse.reshape(-1)


def pair_counts(battles: Battles) -> PairCounts:
    """Aggregate battles into per-pair wins / ties tables.

    Parameters
    ----------
    battles
        Output of :func:`ratings.load_battles`. If it carries ``weights`` the tables hold
        weighted sums (inverse-probability weighting); ``votes`` still counts battles.

    Returns
    -------
    PairCounts
        One row per unordered pair that met, sorted by ``(i, j)``.
    """
    m = battles.num_models
    key, out = _orient(battles)
    keys, pidx = _pair_index(key, m)
    n_pairs = keys.shape[0]
    flat = pidx * 4 + out
    tab = np.bincount(flat, weights=battles.weights, minlength=4 * n_pairs).reshape(n_pairs, 4)
    if battles.weights is None:
        votes = tab.sum(axis=1).astype(np.int64)
    else:
        votes = np.bincount(pidx, minlength=n_pairs).astype(np.int64)
    return PairCounts(
        models=battles.models,
        pair_i=keys // m,
        pair_j=keys % m,
        wins_i=np.ascontiguousarray(tab[:, 0]),
        wins_j=np.ascontiguousarray(tab[:, 1]),
        ties=np.ascontiguousarray(tab[:, 2]),
        both_bad=np.ascontiguousarray(tab[:, 3]),
        votes=votes,
    )


def battle_cells(battles: Battles, counts: PairCounts | None = None) -> BattleCells:
    """Distinct resampling cells of ``battles`` (see :class:`BattleCells`)."""
    if counts is None:
        counts = pair_counts(battles)
    if battles.weights is None:
        tab = np.stack([counts.wins_i, counts.wins_j, counts.ties, counts.both_bad], axis=1)
        pair, outcome = np.nonzero(tab > 0)
        return BattleCells(
            pair=pair.astype(np.int64),
            outcome=outcome.astype(np.int64),
            weight=np.ones(pair.shape[0]),
            count=tab[pair, outcome].astype(np.int64),
        )
    m = battles.num_models
    key, out = _orient(battles)
    pkeys = counts.pair_i * m + counts.pair_j
    pidx = np.searchsorted(pkeys, key)
    flat = pidx * 4 + out
    order = np.lexsort((battles.weights, flat))
    f, w = flat[order], battles.weights[order]
    start = np.ones(f.shape[0], dtype=bool)
    start[1:] = (f[1:] != f[:-1]) | (w[1:] != w[:-1])
    first = np.flatnonzero(start)
    cnt = np.diff(np.append(first, f.shape[0]))
    return BattleCells(
        pair=f[first] // 4, outcome=f[first] % 4, weight=w[first], count=cnt.astype(np.int64)
    )
