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

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from ratings.bootstrap import bootstrap_bradley_terry, multinomial_rows
from ratings.bt import DEFAULT_PRIOR, _to_ratings, fit_bradley_terry
from ratings.counts import PairCounts
from ratings.errors import NoBattlesError, RatingsError
from ratings.leaderboard import Leaderboard, LeaderboardRow, rank_by_intervals
from ratings.matrices import average_win_rate, battle_count_matrix, win_fraction_matrix
from ratings.outcomes import Battles, BothBad
from ratings.style import (
    DEFAULT_MIN_WITHIN_SHARE,
    StyleNotice,
    StyleResult,
    _identifiability,
    _intervals,
    _newton,
    _prior_needed,
    _Rows,
)

__all__ = ["leaderboard_from_cells", "pair_counts_from_cells", "style_from_cells"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_ROUND_CHUNK_ELEMENTS = 2_000_000  # rounds × rows handled at once by the batched style fit


def _keep(outcome: IntArray, both_bad: BothBad) -> npt.NDArray[np.bool_]:
    if both_bad not in ("tie", "exclude"):
        raise RatingsError(f"both_bad must be 'tie' or 'exclude', got {both_bad!r}")
    if both_bad == "exclude":
        return np.asarray(outcome != 3)
    return np.ones(outcome.shape[0], dtype=bool)


def _orient(
    a: IntArray, b: IntArray, outcome: IntArray, m: int
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]]:
    """Unordered pair key ``i*m + j`` (i < j), the outcome seen from ``i``, and which cells
    were swapped (as :func:`ratings.counts._orient`, on cells)."""
    swapped = a > b
    lo = np.where(swapped, b, a)
    hi = np.where(swapped, a, b)
    decisive = outcome < 2
    out = np.where(decisive & swapped, 1 - outcome, outcome)
    return lo * m + hi, out, swapped


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


def _style_rows(
    m: int, a: IntArray, b: IntArray, out: IntArray, n: FloatArray, x: FloatArray
) -> _Rows:
    """The rows :func:`ratings.style._group` would build from the votes, from cells: pooled
    by (pair, outcome, oriented covariates), in the same (sorted) order."""
    key, o, swapped = _orient(a, b, out, m)
    xo = np.where(swapped[:, None], -x, x)
    o = np.minimum(o, 2)
    table = np.column_stack(
        [key.astype(np.float64), o.astype(np.float64), np.ones(key.shape[0]), xo]
    )
    uniq, inverse = np.unique(table, axis=0, return_inverse=True)
    pooled = np.bincount(inverse.reshape(-1), weights=n, minlength=uniq.shape[0])
    k = uniq[:, 0].astype(np.int64)
    return _Rows(
        pi=k // m,
        pj=k % m,
        x=np.ascontiguousarray(uniq[:, 3:]),
        outcome=uniq[:, 1].astype(np.int64),
        battles=np.rint(pooled),
        weight=uniq[:, 2].copy(),
    )


def _sigmoid(z: FloatArray) -> FloatArray:
    """Logistic function, in place on a temporary."""
    with np.errstate(over="ignore"):
        e = np.exp(-z)
    np.add(e, 1.0, out=e)
    return np.reciprocal(e, out=e)


def _information(
    m: int,
    pi: IntArray,
    pj: IntArray,
    x: FloatArray,
    c: FloatArray,
    prior: float,
    params: FloatArray,
) -> FloatArray:
    """The matrix ``ratings.style._newton`` solves with (negative Hessian, plus the gauge or
    the prior), for weights ``c = n p (1 - p)`` per (pair, covariates) row."""
    d = x.shape[1]
    h = np.zeros((m + d, m + d))
    cc = np.bincount(pi * m + pj, c, m * m).reshape(m, m)
    h[:m, :m] = -(cc + cc.T)
    h[np.arange(m), np.arange(m)] = -h[:m, :m].sum(axis=1)
    cx = c[:, None] * x
    hb = np.zeros((m, d))
    for k in range(d):
        hb[:, k] = np.bincount(pi, cx[:, k], m) - np.bincount(pj, cx[:, k], m)
    h[:m, m:] = hb
    h[m:, :m] = hb.T
    h[m:, m:] = np.einsum("ij,ik->jk", x, cx)
    if prior > 0:
        s = _sigmoid(params)
        h[np.diag_indices(m + d)] += prior * s * (1 - s)
    else:
        h[:m, :m] += 1.0
    return h


@dataclass(frozen=True, eq=False)
class _StyleGroups:
    """The pooled rows merged by (pair, covariates): the three outcome rows of a group share
    their linear predictor, so a round needs only each group's effective wins (ties half each
    way). Built once per fit, shared by every bootstrap chunk."""

    design: sparse.csr_matrix  # (groups, m + d): +1 at i, -1 at j, then the covariates
    design_t: sparse.csr_matrix
    to_i: sparse.csr_matrix  # (groups, rows): a row's contribution to the group's wins of i
    to_j: sparse.csr_matrix
    hinv: FloatArray  # inverse of the point estimate's matrix

    @classmethod
    def build(cls, m: int, rows: _Rows, params: FloatArray, prior: float) -> _StyleGroups:
        gkey = np.column_stack([(rows.pi * m + rows.pj).astype(np.float64), rows.x])
        groups, ginv = np.unique(gkey, axis=0, return_inverse=True)
        ginv = ginv.reshape(-1)
        gk = groups[:, 0].astype(np.int64)
        gi, gj, gx = gk // m, gk % m, np.ascontiguousarray(groups[:, 1:])
        n_groups, n_rows, d = groups.shape[0], ginv.shape[0], gx.shape[1]
        yi = np.where(rows.outcome == 0, 1.0, np.where(rows.outcome == 1, 0.0, 0.5))
        to_i = sparse.csr_matrix((yi, (ginv, np.arange(n_rows))), shape=(n_groups, n_rows))
        to_j = sparse.csr_matrix((1.0 - yi, (ginv, np.arange(n_rows))), shape=(n_groups, n_rows))
        g_idx = np.arange(n_groups)
        design = sparse.csr_matrix(
            (
                np.concatenate([np.ones(n_groups), -np.ones(n_groups), gx.T.reshape(-1)]),
                (
                    np.concatenate([g_idx, g_idx, np.tile(g_idx, d)]),
                    np.concatenate([gi, gj, np.repeat(m + np.arange(d), n_groups)]),
                ),
            ),
            shape=(n_groups, m + d),
        )
        w0 = np.asarray(to_i @ rows.count) + np.asarray(to_j @ rows.count)
        p0 = _sigmoid(design @ params)
        h = _information(m, gi, gj, gx, w0 * p0 * (1 - p0), prior, params)
        return cls(
            design,
            design.T.tocsr(),
            to_i,
            to_j,
            np.asarray(np.linalg.pinv(h, hermitian=True), dtype=np.float64),
        )


def _group_rows(
    m: int, rows: _Rows
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """(i, j, covariates, wins of i, wins of j) per (pair, covariates) group, ties half."""
    gkey = np.column_stack([(rows.pi * m + rows.pj).astype(np.float64), rows.x])
    groups, ginv = np.unique(gkey, axis=0, return_inverse=True)
    ginv = ginv.reshape(-1)
    yi = np.where(rows.outcome == 0, 1.0, np.where(rows.outcome == 1, 0.0, 0.5))
    wi = np.asarray(np.bincount(ginv, rows.count * yi, groups.shape[0]), dtype=np.float64)
    wj = np.asarray(np.bincount(ginv, rows.count * (1.0 - yi), groups.shape[0]), dtype=np.float64)
    gk = groups[:, 0].astype(np.int64)
    return gk // m, gk % m, np.ascontiguousarray(groups[:, 1:], dtype=np.float64), wi, wj


def _grouped_newton(
    m: int, rows: _Rows, prior: float, start: FloatArray, max_iter: int = 100
) -> tuple[FloatArray, float, int, bool]:
    """The point estimate of ``ratings.style._newton`` (same likelihood, prior and stopping
    rule) on the rows merged by (pair, covariates): a third of the rows, and a line search
    that accepts steps within round-off of the current likelihood instead of halving on noise.
    """
    gi, gj, gx, wi, wj = _group_rows(m, rows)
    d = gx.shape[1]
    g_idx = np.arange(gi.shape[0])
    design = sparse.csr_matrix(
        (
            np.concatenate([np.ones(gi.shape[0]), -np.ones(gi.shape[0]), gx.T.reshape(-1)]),
            (
                np.concatenate([g_idx, g_idx, np.tile(g_idx, d)]),
                np.concatenate([gi, gj, np.repeat(m + np.arange(d), gi.shape[0])]),
            ),
        ),
        shape=(gi.shape[0], m + d),
    )
    total = wi + wj

    def loglik(p: FloatArray) -> float:
        z = design @ p
        val = -float(wi @ np.logaddexp(0, -z) + wj @ np.logaddexp(0, z))
        if prior > 0:
            val -= 0.5 * prior * float(np.sum(np.logaddexp(0, -p) + np.logaddexp(0, p)))
        return val

    params = start.copy()
    f = loglik(params)
    stalled = 0
    for it in range(1, max_iter + 1):
        prob = _sigmoid(design @ params)
        g = design.T @ (wi - total * prob)
        if prior > 0:
            g -= prior * (_sigmoid(params) - 0.5)
        h = _information(m, gi, gj, gx, total * prob * (1 - prob), prior, params)
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        t = 1.0
        noise = 1e-12 * max(1.0, abs(f))
        while True:
            cand = params + t * step
            f_new = loglik(cand)
            if f_new >= f - noise or t < 1e-10:
                break
            t *= 0.5
        if t < 1e-10:
            return params, f, it, False
        moved = float(np.max(np.abs(t * step)))
        stalled = stalled + 1 if f_new - f <= noise and moved >= 1e-6 else 0
        params, f = cand, max(f, f_new)
        if moved < 1e-10:
            return params, f_new, it, bool(np.max(np.abs(params)) < 30.0)
        if stalled >= 3:  # sliding along a flat direction (covariates that mirror the models)
            return params, f, it, False
    return params, f, max_iter, False


def _batched_style_rounds(
    m: int,
    groups: _StyleGroups,
    draws: FloatArray,
    params: FloatArray,
    prior: float,
    tol: float = 1e-7,
    max_iter: int = 40,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Fit many bootstrap rounds at once; ``draws`` is (rounds, rows) of resampled counts.

    Every chord-Newton step reuses the inverse of the point estimate's matrix; a round has
    settled when no parameter moves by ``tol`` (1e-7 natural units: 2e-5 rating points, as
    :func:`ratings.bootstrap_bradley_terry`). Returns params (rounds, m + d) and which
    rounds settled.
    """
    wi_all = np.asarray(groups.to_i @ draws.T)  # (groups, rounds)
    total_all = wi_all + np.asarray(groups.to_j @ draws.T)
    rounds = draws.shape[0]
    theta = np.repeat(params[:, None], rounds, axis=1)  # (m + d, rounds)
    moved = np.full(rounds, np.inf)
    active = np.arange(rounds)
    wi, total = wi_all, total_all
    for _ in range(max_iter):
        th = theta[:, active]
        r = _sigmoid(np.asarray(groups.design @ th))  # P(i wins) per group and round
        np.multiply(r, total, out=r)
        np.subtract(wi, r, out=r)
        g = np.asarray(groups.design_t @ r)
        if prior > 0:
            g -= prior * (_sigmoid(th) - 0.5)
        step = np.einsum("ij,jr->ir", groups.hinv, g)
        if prior <= 0:
            step[:m] -= step[:m].mean(axis=0)  # the gauge: only differences matter
        theta[:, active] = th + step
        moved[active] = np.max(np.abs(step), axis=0)
        if not np.all(np.isfinite(moved[active])):
            break
        still = moved[active] >= tol
        if not still.any():
            break
        if not still.all():
            active = active[still]
            wi, total = wi_all[:, active], total_all[:, active]
    return theta.T, moved < tol


def style_from_cells(
    models: Sequence[str],
    model_a: npt.ArrayLike,
    model_b: npt.ArrayLike,
    outcome: npt.ArrayLike,
    count: npt.ArrayLike,
    covariates: npt.ArrayLike,
    *,
    names: Sequence[str] | None = None,
    both_bad: BothBad = "tie",
    center: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
    bootstrap_rounds: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    sequential_draws: bool = False,
    min_within_share: float = DEFAULT_MIN_WITHIN_SHARE,
) -> StyleResult:
    """:func:`ratings.fit_bradley_terry_with_covariates` (standardised covariates) on cells.

    ``covariates`` is (cells, d): the covariate differences (left minus right) of each cell's
    votes (the database bins them so that a cell holds votes with equal values). Columns
    that do not vary among the rated votes are dropped (the per-vote fit rejects them).
    Same point estimate as the per-vote fit. The bootstrap resamples the votes the same way
    (a multinomial over the same pooled rows); by default the draws come from
    :func:`ratings.bootstrap.multinomial_rows` (exactly multinomial, all rounds at once, about
    twice as fast), with ``sequential_draws=True`` from one ``Generator.multinomial`` per
    round, which are the per-vote fit's very draws for the same seed.
    """
    names_t = tuple(models)
    m = len(names_t)
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    out = np.asarray(outcome, dtype=np.int64)
    n = np.asarray(count, dtype=np.float64)
    x = np.asarray(covariates, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    col_names = tuple(names) if names is not None else tuple(f"x{k}" for k in range(x.shape[1]))
    if x.shape[0] != a.shape[0] or len(col_names) != x.shape[1]:
        raise RatingsError("covariates must have one row per cell and one name per column")
    if not np.all(np.isfinite(x)):
        raise RatingsError("covariates must be finite")
    keep = _keep(out, both_bad) & (n > 0)
    a, b, out, n, x = a[keep], b[keep], out[keep], n[keep], x[keep]
    total = float(n.sum())
    if total <= 0:
        raise NoBattlesError("no battles to rate (after excluding ties / both-bad)")
    mean = (n @ x) / total
    sd = np.sqrt(np.maximum((n @ (x - mean) ** 2) / total, 0.0))
    varies = sd > 0
    requested = col_names
    notices = [
        StyleNotice(
            c,
            "no_variation",
            (
                f"{c!r} was dropped: it takes one value in every rated vote, so it carries no "
                "information."
            ),
        )
        for c, v in zip(col_names, varies, strict=True)
        if not v
    ]
    x, sd = x[:, varies] / sd[varies], sd[varies]
    col_names = tuple(c for c, v in zip(col_names, varies, strict=True) if v)
    rows = _style_rows(m, a, b, out, n, x)
    # identifiability (ratings.style): a covariate constant within each model, or collinear
    # with one kept before it, is dropped with a notice instead of making the fit arbitrary
    check = _identifiability(m, rows, col_names, min_within_share)
    notices += check.notices
    if len(check.kept) < x.shape[1]:
        kept = list(check.kept)
        x, col_names = x[:, kept], tuple(col_names[k] for k in kept)
        rows = _style_rows(m, a, b, out, n, x)
    d = x.shape[1]
    prior_used = _prior_needed(m, rows)
    params, ll, iters, conv = _grouped_newton(m, rows, prior_used, np.zeros(m + d))
    if not conv and prior_used == 0.0:  # e.g. a covariate separates the outcomes
        prior_used = DEFAULT_PRIOR
        params, ll, iters, conv = _grouped_newton(m, rows, prior_used, np.zeros(m + d))
        if d:
            notices.append(
                StyleNotice(
                    None,
                    "separation",
                    (
                        "The covariates (almost) separate wins from losses, so the plain maximum "
                        "likelihood does not exist; a weak prior keeps the coefficients finite, "
                        "and they are shrunk towards zero."
                    ),
                )
            )
    identified = d > 0 and conv
    if not d:
        dropped_all = ", ".join(repr(c) for c in requested) or "none was given"
        notices.append(
            StyleNotice(
                None,
                "not_identified",
                (
                    "Style control is not identified: no covariate can be told apart from the "
                    f"models' ratings ({dropped_all}). The ratings are the plain ones; do not show "
                    "them as style-controlled."
                ),
            )
        )
    elif not conv:
        notices.append(
            StyleNotice(
                None,
                "not_converged",
                ("Style control is not identified: the fit with covariates did not converge."),
            )
        )
    to_points = scale / math.log(base)
    ratings = _to_ratings(params[:m], scale, base, center, None, center)
    samples = None
    if bootstrap_rounds > 0 and identified:  # unidentified: nothing to show
        rng = np.random.default_rng(seed)
        pvals = rows.battles / rows.battles.sum()
        samples = np.empty((bootstrap_rounds, m + d))
        n_votes = int(round(total))
        chunk = max(1, min(bootstrap_rounds, _ROUND_CHUNK_ELEMENTS // max(1, pvals.shape[0])))
        groups = _StyleGroups.build(m, rows, params, prior_used)
        for start in range(0, bootstrap_rounds, chunk):
            size = min(chunk, bootstrap_rounds - start)
            if sequential_draws:  # one multinomial per round, as the per-vote fit draws
                draws = np.stack(
                    [rng.multinomial(n_votes, pvals) * rows.weight for _ in range(size)]
                )
            else:
                draws = multinomial_rows(rng, n_votes, pvals, size) * rows.weight
            fitted, settled = _batched_style_rounds(m, groups, draws, params, prior_used)
            for r in np.flatnonzero(~settled):
                fitted[r] = _newton(m, rows, draws[r], prior_used, params)[0]
            samples[start : start + size] = fitted
    lo, hi, clo, chi = _intervals(
        samples,
        m,
        d,
        scale=scale,
        base=base,
        center=center,
        anchor_idx=None,
        anchor_value=center,
        confidence=confidence,
    )
    return StyleResult(
        models=names_t,
        ratings=ratings,
        coefficients=params[m:] * to_points,
        covariate_names=col_names,
        standardized=True,
        log_likelihood=ll,
        iterations=iters,
        converged=conv,
        regularized=prior_used > 0,
        prior_strength=prior_used,
        rows=int(rows.count.shape[0]),
        ci_low=lo,
        ci_high=hi,
        coef_ci_low=clo,
        coef_ci_high=chi,
        bootstrap_rounds=bootstrap_rounds,
        identified=identified,
        notices=tuple(notices),
        requested_covariates=requested,
        dropped=tuple(c for c in requested if c not in col_names),
        within_model_share=check.within_model_share,
        condition_number=check.condition_number,
        design_rank=check.design_rank,
    )
