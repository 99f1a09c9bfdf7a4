"""Leaderboards from aggregated vote cells instead of one row per vote.

A *cell* is a group of votes with the same left model, right model, outcome (and, for style
control, the same binned covariate differences) with its vote count. The database returns
cells (``GROUP BY``), so the work here grows with models² × outcomes × bins, never with
votes. The results are those of :func:`ratings.compute_leaderboard` and
:func:`ratings.fit_bradley_terry_with_covariates` on the votes the cells stand for (same
point estimates; same bootstrap draws for the same seed), only computed from counts:

* :func:`pair_counts_from_cells` builds the :class:`~ratings.PairCounts` table;
* :func:`leaderboard_from_cells` is :func:`~ratings.compute_leaderboard` (``method="bt"``,
  unweighted) on cells, with the online Elo supplied by the caller (it needs vote order,
  see :mod:`ratings.replay`);
* :func:`style_from_cells` is the style-controlled fit, whose bootstrap fits all rounds at
  once by chord-Newton steps (reusing the point estimate's Hessian) instead of a full Newton
  solve per round; a round that does not settle is refitted exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ratings.bootstrap import bootstrap_bradley_terry
from ratings.bt import fit_bradley_terry
from ratings.cells import _keep, _orient
from ratings.counts import PairCounts
from ratings.errors import NoBattlesError, RatingsError
from ratings.leaderboard import Leaderboard, LeaderboardRow, rank_by_intervals
from ratings.matrices import average_win_rate, battle_count_matrix, win_fraction_matrix
from ratings.outcomes import Battles, BothBad
from ratings.style import StyleResult
from ratings.style_cells import style_from_cells

__all__ = ["leaderboard_from_cells", "pair_counts_from_cells", "style_from_cells"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def pair_counts_from_cells(
    models: Sequence[str],
    model_a: npt.ArrayLike,
    model_b: npt.ArrayLike,
    outcome: npt.ArrayLike,
    count: npt.ArrayLike,
) -> PairCounts:
    """The :class:`~ratings.PairCounts` table of the votes the cells stand for.

    ``model_a``/``model_b`` index ``models``; ``outcome`` holds :class:`~ratings.Winner`
    values; ``count`` the number of votes of each cell (cells may repeat).
    """
    m = len(models)
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    out0 = np.asarray(outcome, dtype=np.int64)
    n = np.asarray(count, dtype=np.float64)
    if np.any(a == b):
        raise RatingsError("a model cannot battle itself")
    key, out, _ = _orient(a, b, out0, m)
    keys, pidx = np.unique(key, return_inverse=True)
    pidx = pidx.reshape(-1)
    tab = np.bincount(pidx * 4 + out, weights=n, minlength=4 * keys.shape[0])
    tab = tab.reshape(-1, 4)
    return PairCounts(
        models=tuple(models),
        pair_i=keys // m,
        pair_j=keys % m,
        wins_i=np.ascontiguousarray(tab[:, 0]),
        wins_j=np.ascontiguousarray(tab[:, 1]),
        ties=np.ascontiguousarray(tab[:, 2]),
        both_bad=np.ascontiguousarray(tab[:, 3]),
        votes=np.rint(tab.sum(axis=1)).astype(np.int64),
    )


def leaderboard_from_cells(
    models: Sequence[str],
    model_a: npt.ArrayLike,
    model_b: npt.ArrayLike,
    outcome: npt.ArrayLike,
    count: npt.ArrayLike,
    *,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    center: float = 1000.0,
    both_bad: BothBad = "tie",
    elo: npt.ArrayLike | None = None,
    style: StyleResult | None = None,
    workers: int | None = None,
) -> Leaderboard:
    """:func:`ratings.compute_leaderboard` (Bradley–Terry, unweighted) from vote cells.

    Parameters
    ----------
    models
        Sorted, unique model names (models without votes get prior-only ratings).
    model_a, model_b, outcome, count
        The cells (see :func:`pair_counts_from_cells`).
    elo
        Online Elo per model (it depends on vote order, which cells do not keep);
        ``nan`` when not given.
    style
        A :func:`style_from_cells` result to attach (``style_*`` fields of the rows).

    Raises
    ------
    NoBattlesError
        No vote is left once "both bad" votes are dropped (``both_bad="exclude"``).
    """
    names = tuple(models)
    if list(names) != sorted(set(names)):
        raise RatingsError("models must be sorted and unique")
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    out = np.asarray(outcome, dtype=np.int64)
    n = np.asarray(count, dtype=np.int64)
    keep = _keep(out, both_bad) & (n > 0)
    if not keep.any():
        raise NoBattlesError("no battles to rate (after excluding ties / both-bad)")
    counts = pair_counts_from_cells(names, a[keep], b[keep], out[keep], n[keep])
    fit = fit_bradley_terry(counts, center=center)
    rating = fit.ratings
    boot = None
    if bootstrap_rounds:
        # Unweighted resampling needs only the pair table: the battles argument carries no
        # rows (``ratings.bootstrap._cells`` reads the table when there are no weights).
        empty = np.zeros(0, dtype=np.int64)
        stub = Battles(names, empty, empty, np.zeros(0, dtype=np.int8), None)
        boot = bootstrap_bradley_terry(
            stub,
            rounds=bootstrap_rounds,
            seed=seed,
            confidence=confidence,
            point=fit,
            counts=counts,
            center=center,
            workers=workers,
        )
    pred = fit.win_probability()
    low = rating.copy() if boot is None else boot.ci_low
    high = rating.copy() if boot is None else boot.ci_high
    ranks = rank_by_intervals(low, high)
    per = counts.per_model()
    with np.errstate(invalid="ignore", divide="ignore"):
        win_rate = (per["wins"] + 0.5 * per["ties"]) / (per["wins"] + per["ties"] + per["losses"])
    avg_prob = average_win_rate(pred)
    m = len(names)
    elo_arr = np.full(m, np.nan) if elo is None else np.asarray(elo, dtype=np.float64)
    nan = float("nan")
    order = sorted(range(m), key=lambda k: (-rating[k], names[k]))
    rows = tuple(
        LeaderboardRow(
            rank=int(ranks[k]),
            model=names[k],
            rating=float(rating[k]),
            ci_low=float(low[k]),
            ci_high=float(high[k]),
            votes=int(per["votes"][k]),
            wins=int(round(per["wins"][k])),
            ties=int(round(per["ties"][k])),
            losses=int(round(per["losses"][k])),
            win_rate=float(win_rate[k]),
            avg_win_prob=float(avg_prob[k]),
            elo=float(elo_arr[k]),
            style_rating=nan if style is None else float(style.ratings[k]),
            style_ci_low=nan if style is None else float(style.ci_low[k]),
            style_ci_high=nan if style is None else float(style.ci_high[k]),
        )
        for k in order
    )
    return Leaderboard(
        rows=rows,
        models=names,
        method="bt",
        num_battles=int(n[keep].sum()),
        bootstrap_rounds=bootstrap_rounds,
        seed=seed,
        confidence=confidence,
        anchor=None,
        center=center,
        exclude_ties=False,
        both_bad=both_bad,
        weighted=False,
        regularized=fit.regularized,
        prior_strength=fit.prior_strength,
        regularized_rounds=0 if boot is None else boot.regularized_rounds,
        battle_counts=battle_count_matrix(counts),
        win_fraction=win_fraction_matrix(counts),
        predicted_win=pred,
        style=style,
    )
