"""Bradley–Terry with per-battle covariates ("style control").

Model: ``logit P(a beats b) = theta_a - theta_b + x · beta`` where ``x`` is a row of
per-battle covariate *differences* (model_a's feature minus model_b's, e.g. answer length,
generation time, an indicator of a resolution mismatch). ``beta`` absorbs what the covariates
explain, so ``theta`` are the ratings "controlled" for them (as LMArena's style control).
Ties count half a win each way, as in :mod:`ratings.bt`.

Aggregation: continuous covariates cannot be pooled by pair, so rows are pooled by unique
``(pair, oriented covariate row)`` (exact for discrete covariates, one row per battle for
continuous ones) and the joint likelihood is maximised by damped Newton steps on
``(theta, beta)``: the θθ block is the pair Laplacian, the other blocks are O(rows × d)
sums. Without a covariate that separates the outcomes this is the plain MLE; the same
virtual-tie prior as :mod:`ratings.bt` (also on ``beta``) is added only when the MLE does not
exist or the system is singular, and reported.

Identifiability
---------------
Before fitting, :func:`style_identifiability` checks what the data can tell apart. A covariate
given as per-battle differences ``x = f(a) − f(b)`` whose feature is constant within each
model (one provider always returns one resolution) is a linear combination of the model
indicator differences: its effect cannot be told apart from the models' ratings, and the joint
fit is singular (any split between ``theta`` and ``beta`` fits equally well). We project each
covariate onto the span of the model indicator differences (a weighted least squares on the
comparison graph's Laplacian) and keep it only if at least ``min_within_share`` (default 1 %,
a variance inflation factor of 100) of its weighted second moment lies outside that span;
then, in the given order, a covariate whose remaining part is (nearly) a combination of the
covariates already kept is dropped as collinear (its effect is carried by those). Every drop
is reported as a :class:`StyleNotice`; the result carries the design's rank and the
condition number of the covariate block once the ratings are accounted for. When no covariate
is left, the fit is the plain Bradley–Terry fit and ``identified`` is False: callers should
then not show "style-controlled" ratings at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.bootstrap import percentile_interval
from ratings.bt import DEFAULT_PRIOR, _to_ratings, is_strongly_connected
from ratings.errors import RatingsError, UnknownModelError
from ratings.outcomes import Battles
from ratings.style_design import (
    DEFAULT_MIN_WITHIN_SHARE,
    StyleIdentifiability,
    StyleNotice,
    _covariate_matrix,
    _group,
    _identifiability,
    _Rows,
    fit_notices,
    style_identifiability,
)

__all__ = [
    "DEFAULT_MIN_WITHIN_SHARE",
    "StyleIdentifiability",
    "StyleNotice",
    "StyleResult",
    "fit_bradley_terry_with_covariates",
    "style_identifiability",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class StyleResult:
    """Covariate-controlled Bradley–Terry fit.

    ``ratings`` are on the usual scale (mean ``center`` or anchored); ``coefficients[k]`` is
    the effect of covariate ``k`` in rating points per unit (per standard deviation when
    ``standardized``); ``ci_low``/``ci_high`` (ratings) and ``coef_ci_low``/``coef_ci_high``
    are bootstrap percentile intervals (``nan`` if no bootstrap). ``rows`` is the number of
    distinct ``(pair, covariate row)`` groups actually fitted.

    ``covariate_names``/``coefficients`` list only the covariates actually fitted;
    ``requested_covariates`` lists all that were given and ``dropped`` those left out, each
    with a :class:`StyleNotice` in ``notices``. ``identified`` is False when no covariate
    could be fitted: the ratings are then the plain Bradley–Terry ones and must not be shown
    as style-controlled.
    """

    models: tuple[str, ...]
    ratings: FloatArray
    coefficients: FloatArray
    covariate_names: tuple[str, ...]
    standardized: bool
    log_likelihood: float
    iterations: int
    converged: bool
    regularized: bool
    prior_strength: float
    rows: int
    ci_low: FloatArray
    ci_high: FloatArray
    coef_ci_low: FloatArray
    coef_ci_high: FloatArray
    bootstrap_rounds: int
    identified: bool = True
    notices: tuple[StyleNotice, ...] = ()
    requested_covariates: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    within_model_share: FloatArray | None = None
    condition_number: float = float("nan")
    design_rank: int = 0

    def as_dict(self) -> dict[str, float]:
        """``{model: controlled rating}``."""
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def notice_messages(self) -> list[str]:
        """The notices' human-readable texts, in order."""
        return [n.message for n in self.notices]


def _dot(x: FloatArray, beta: FloatArray) -> FloatArray:
    """``x @ beta`` without BLAS: for a handful of columns BLAS threading only adds latency."""
    return np.einsum("ij,j->i", x, beta)


def _sig(z: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _newton(
    m: int, rows: _Rows, count: FloatArray, prior: float, start: FloatArray, max_iter: int = 100
) -> tuple[FloatArray, float, int, bool]:
    """Maximise the joint log-likelihood over ``(theta, beta)``; returns params, loglik."""
    d = rows.x.shape[1]
    yi = np.where(rows.outcome == 0, 1.0, np.where(rows.outcome == 1, 0.0, 0.5))
    params = start.copy()

    def loglik(p: FloatArray) -> float:
        z = p[rows.pi] - p[rows.pj] + _dot(rows.x, p[m:])
        val = -float(count @ (yi * np.logaddexp(0, -z) + (1 - yi) * np.logaddexp(0, z)))
        if prior > 0:
            val -= 0.5 * prior * float(np.sum(np.logaddexp(0, -p) + np.logaddexp(0, p)))
        return val

    f = loglik(params)
    for it in range(1, max_iter + 1):
        z = params[rows.pi] - params[rows.pj] + _dot(rows.x, params[m:])
        p = _sig(z)
        r = count * (yi - p)
        c = count * p * (1 - p)
        g = np.empty(m + d)
        g[:m] = np.bincount(rows.pi, r, m) - np.bincount(rows.pj, r, m)
        g[m:] = np.einsum("ij,i->j", rows.x, r)
        h = np.zeros((m + d, m + d))
        pair_key = rows.pi * m + rows.pj
        cc = np.bincount(pair_key, c, m * m).reshape(m, m)
        h[:m, :m] = -(cc + cc.T)
        h[np.arange(m), np.arange(m)] = -h[:m, :m].sum(axis=1)
        cx = c[:, None] * rows.x
        hb = np.zeros((m, d))
        for k in range(d):
            hb[:, k] = np.bincount(rows.pi, cx[:, k], m) - np.bincount(rows.pj, cx[:, k], m)
        h[:m, m:] = hb
        h[m:, :m] = hb.T
        h[m:, m:] = np.einsum("ij,ik->jk", rows.x, cx)
        if prior > 0:
            s = _sig(params)
            g -= prior * (s - 0.5)
            h[np.diag_indices(m + d)] += prior * s * (1 - s)
        else:
            h[:m, :m] += 1.0  # gauge: sum(theta) = 0
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        t = 1.0
        while True:
            cand = params + t * step
            f_new = loglik(cand)
            if f_new >= f + 1e-4 * t * float(g @ step) or t < 1e-10:
                break
            t *= 0.5
        if t < 1e-10:  # no progress possible: flat direction (separation) or round-off
            return params, f, it, False
        params, f = cand, f_new
        if float(np.max(np.abs(t * step))) < 1e-10:
            # |natural parameter| > 30 means P(win) within 1e-13 of 0 or 1: a divergent MLE
            return params, f, it, bool(np.max(np.abs(params)) < 30.0)
    return params, f, max_iter, False


def _prior_needed(m: int, rows: _Rows) -> float:
    """0 when the comparison graph of ``rows`` is strongly connected (the plain MLE exists),
    else the weak :data:`ratings.bt.DEFAULT_PRIOR`."""
    yi = np.where(rows.outcome == 0, 1.0, np.where(rows.outcome == 1, 0.0, 0.5))
    wi = np.asarray(
        np.bincount(rows.pi * m + rows.pj, rows.count * yi, m * m), dtype=np.float64
    ).reshape(m, m)
    wj = np.asarray(
        np.bincount(rows.pi * m + rows.pj, rows.count * (1 - yi), m * m), dtype=np.float64
    ).reshape(m, m)
    pi, pj = np.nonzero((wi + wj) > 0)
    return 0.0 if is_strongly_connected(m, pi, pj, wi[pi, pj], wj[pi, pj]) else DEFAULT_PRIOR


def _intervals(
    samples: FloatArray | None,
    m: int,
    d: int,
    *,
    scale: float,
    base: float,
    center: float,
    anchor_idx: int | None,
    anchor_value: float,
    confidence: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Percentile intervals (rating low, high, coefficient low, high) from bootstrap
    parameter samples ``(rounds, m + d)``; all ``nan`` without a bootstrap."""
    if samples is None:
        nan_m, nan_d = np.full(m, np.nan), np.full(d, np.nan)
        return nan_m, nan_m, nan_d, nan_d
    r_s = _to_ratings(samples[:, :m], scale, base, center, anchor_idx, anchor_value)
    lo, hi, _ = percentile_interval(r_s, confidence)
    clo, chi, _ = percentile_interval(samples[:, m:] * (scale / math.log(base)), confidence)
    return lo, hi, clo, chi


@dataclass(frozen=True, eq=False)
class _Fit:
    """A covariate fit, refitted with the default prior when it did not converge without one
    (e.g. a covariate separates the outcomes), with the notices that follow from it."""

    params: FloatArray
    log_likelihood: float
    iterations: int
    converged: bool
    prior: float
    identified: bool
    notices: tuple[StyleNotice, ...]


def _fit_with_fallback(
    newton: Callable[[float], tuple[FloatArray, float, int, bool]],
    prior: float,
    *,
    covariates: int,
    requested: Sequence[str],
) -> _Fit:
    """Both style fits (per vote, from cells) converge, fall back and report the same way."""
    params, ll, iters, conv = newton(prior)
    prior_fallback = not conv and prior == 0.0
    if prior_fallback:
        prior = DEFAULT_PRIOR
        params, ll, iters, conv = newton(prior)
    notices = fit_notices(
        covariates=covariates, converged=conv, prior_fallback=prior_fallback, requested=requested
    )
    return _Fit(params, ll, iters, conv, prior, covariates > 0 and conv, tuple(notices))


def _style_result(
    *,
    models: tuple[str, ...],
    fit: _Fit,
    ratings: FloatArray,
    to_points: float,
    covariate_names: tuple[str, ...],
    standardized: bool,
    rows: int,
    intervals: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    bootstrap_rounds: int,
    notices: Sequence[StyleNotice],
    requested: tuple[str, ...],
    check: StyleIdentifiability,
) -> StyleResult:
    """The one way a style fit becomes a result (both fits build it here)."""
    lo, hi, clo, chi = intervals
    return StyleResult(
        models=models,
        ratings=ratings,
        coefficients=fit.params[len(models) :] * to_points,
        covariate_names=covariate_names,
        standardized=standardized,
        log_likelihood=fit.log_likelihood,
        iterations=fit.iterations,
        converged=fit.converged,
        regularized=fit.prior > 0,
        prior_strength=fit.prior,
        rows=rows,
        ci_low=lo,
        ci_high=hi,
        coef_ci_low=clo,
        coef_ci_high=chi,
        bootstrap_rounds=bootstrap_rounds,
        identified=fit.identified,
        notices=(*notices, *fit.notices),
        requested_covariates=requested,
        dropped=tuple(c for c in requested if c not in covariate_names),
        within_model_share=check.within_model_share,
        condition_number=check.condition_number,
        design_rank=check.design_rank,
    )


def fit_bradley_terry_with_covariates(
    battles: Battles,
    covariates: npt.ArrayLike,
    *,
    names: Sequence[str] | None = None,
    standardize: bool = True,
    anchor: tuple[str, float] | None = None,
    center: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
    prior: float | None = None,
    bootstrap_rounds: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    min_within_share: float = DEFAULT_MIN_WITHIN_SHARE,
) -> StyleResult:
    """Bradley–Terry ratings controlled for per-battle covariates.

    Covariates that cannot be identified are dropped first, with a notice each (see
    :func:`style_identifiability`); if none is left the result is the plain Bradley–Terry
    fit with ``identified=False``.

    Parameters
    ----------
    battles
        Loaded battles (weights, if any, are honoured).
    covariates
        ``(battles, d)`` array: for each battle, model_a's feature minus model_b's (swapping
        the sides must flip the sign). Must be finite.
    names
        Covariate names (default ``x0, x1, …``).
    standardize
        Divide each column by its standard deviation first (a column that is a nonzero
        constant, i.e. a pure side effect, is rejected), so coefficients are "rating points
        per standard deviation".
    anchor, center, scale, base, prior
        As in :func:`ratings.fit_bradley_terry`.
    bootstrap_rounds, seed, confidence
        Percentile bootstrap by multinomial resampling of the pooled rows (warm-started;
        cost O(rounds × rows)).
    min_within_share
        See :data:`DEFAULT_MIN_WITHIN_SHARE`.

    References
    ----------
    Li et al., "Does style matter? Disentangling style and substance in Chatbot Arena" (LMSYS
    blog, 2024); Bradley & Terry (1952).
    """
    x, requested = _covariate_matrix(battles, covariates, names)
    check = _identifiability(battles.num_models, _group(battles, x), requested, min_within_share)
    kept = list(check.kept)
    x = x[:, kept]
    col_names = tuple(requested[k] for k in kept)
    d = len(kept)
    if standardize:
        sd = x.std(axis=0)
        if np.any(sd == 0):
            raise RatingsError(
                f"covariate {col_names[int(np.argmin(sd))]!r} is constant: it cannot be "
                "standardised (pass standardize=False to fit it as a side effect)"
            )
        x = x / sd
    m = battles.num_models
    anchor_idx = None
    anchor_value = center
    if anchor is not None:
        if anchor[0] not in battles.models:
            raise UnknownModelError(f"anchor model {anchor[0]!r} is not among the rated models")
        anchor_idx, anchor_value = battles.models.index(anchor[0]), float(anchor[1])
    rows = _group(battles, x)
    prior_used = _prior_needed(m, rows) if prior is None else float(prior)
    notices = list(check.notices)
    fit = _fit_with_fallback(
        lambda strength: _newton(m, rows, rows.count, strength, np.zeros(m + d)),
        prior_used,
        covariates=d,
        requested=requested,
    )
    params, prior_used = fit.params, fit.prior
    to_points = scale / math.log(base)
    ratings = _to_ratings(params[:m], scale, base, center, anchor_idx, anchor_value)
    samples = None
    if bootstrap_rounds > 0:
        rng = np.random.default_rng(seed)
        pvals = rows.battles / rows.battles.sum()
        samples = np.empty((bootstrap_rounds, m + d))
        for k in range(bootstrap_rounds):
            cnt = rng.multinomial(len(battles), pvals) * rows.weight
            samples[k] = _newton(m, rows, cnt, prior_used, params)[0]
    intervals = _intervals(
        samples,
        m,
        d,
        scale=scale,
        base=base,
        center=center,
        anchor_idx=anchor_idx,
        anchor_value=anchor_value,
        confidence=confidence,
    )
    return _style_result(
        models=battles.models,
        fit=fit,
        ratings=ratings,
        to_points=to_points,
        covariate_names=col_names,
        standardized=standardize,
        rows=int(rows.count.shape[0]),
        intervals=intervals,
        bootstrap_rounds=bootstrap_rounds,
        notices=notices,
        requested=requested,
        check=check,
    )
