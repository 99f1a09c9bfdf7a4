"""The style-controlled fit on vote cells; :mod:`ratings.aggregate` re-exports it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ratings.bootstrap import multinomial_rows
from ratings.bt import _to_ratings
from ratings.cells import _keep, _orient
from ratings.errors import NoBattlesError, RatingsError
from ratings.outcomes import BothBad
from ratings.style import (
    StyleResult,
    _fit_with_fallback,
    _intervals,
    _newton,
    _prior_needed,
    _style_result,
)
from ratings.style_batch import _batched_style_rounds, _grouped_newton, _StyleGroups
from ratings.style_design import (
    DEFAULT_MIN_WITHIN_SHARE,
    StyleNotice,
    _identifiability,
    _Rows,
)

__all__ = ["style_from_cells"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_ROUND_CHUNK_ELEMENTS = 2_000_000  # rounds × rows handled at once by the batched style fit


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
    fit = _fit_with_fallback(
        lambda strength: _grouped_newton(m, rows, strength, np.zeros(m + d)),
        prior_used,
        covariates=d,
        requested=requested,
    )
    params, prior_used, identified = fit.params, fit.prior, fit.identified
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
    intervals = _intervals(
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
    return _style_result(
        models=names_t,
        fit=fit,
        ratings=ratings,
        to_points=to_points,
        covariate_names=col_names,
        standardized=True,
        rows=int(rows.count.shape[0]),
        intervals=intervals,
        bootstrap_rounds=bootstrap_rounds,
        notices=notices,
        requested=requested,
        check=check,
    )
