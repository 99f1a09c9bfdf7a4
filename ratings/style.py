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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.bootstrap import percentile_interval
from ratings.bt import DEFAULT_PRIOR, _to_ratings, is_strongly_connected
from ratings.counts import _orient
from ratings.errors import RatingsError, UnknownModelError
from ratings.outcomes import Battles

__all__ = ["StyleResult", "fit_bradley_terry_with_covariates"]

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

    def as_dict(self) -> dict[str, float]:
        """``{model: controlled rating}``."""
        return dict(zip(self.models, self.ratings.tolist(), strict=True))


@dataclass(frozen=True, eq=False)
class _Rows:
    pi: IntArray
    pj: IntArray
    x: FloatArray  # oriented towards pair_i
    outcome: IntArray  # 0: i wins, 1: j wins, 2: tie
    battles: FloatArray  # battles in the group
    weight: FloatArray  # the weight each of them carries (1 without weights)

    @property
    def count(self) -> FloatArray:
        """Effective (weighted) count of each group."""
        return self.battles * self.weight


def _group(battles: Battles, x: FloatArray) -> _Rows:
    """Pool battles by (pair, outcome, oriented covariate row)."""
    m = battles.num_models
    key, out = _orient(battles)
    swapped = battles.model_a > battles.model_b
    xo = np.where(swapped[:, None], -x, x)
    out = np.minimum(out, 2)
    w = np.ones(len(battles)) if battles.weights is None else battles.weights
    table = np.column_stack([key.astype(np.float64), out.astype(np.float64), w, xo])
    uniq, inverse = np.unique(table, axis=0, return_inverse=True)
    n = np.bincount(inverse.reshape(-1), minlength=uniq.shape[0]).astype(np.float64)
    k = uniq[:, 0].astype(np.int64)
    return _Rows(
        pi=k // m,
        pj=k % m,
        x=np.ascontiguousarray(uniq[:, 3:]),
        outcome=uniq[:, 1].astype(np.int64),
        battles=n,
        weight=uniq[:, 2].copy(),
    )


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
) -> StyleResult:
    """Bradley–Terry ratings controlled for per-battle covariates.

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
        Divide each column by its standard deviation first (columns with zero spread are
        rejected), so coefficients are "rating points per standard deviation".
    anchor, center, scale, base, prior
        As in :func:`ratings.fit_bradley_terry`.
    bootstrap_rounds, seed, confidence
        Percentile bootstrap by multinomial resampling of the pooled rows (warm-started;
        cost O(rounds × rows)).

    References
    ----------
    Li et al., "Does style matter? Disentangling style and substance in Chatbot Arena" (LMSYS
    blog, 2024); Bradley & Terry (1952).
    """
    x = np.asarray(covariates, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] != len(battles):
        raise RatingsError(f"got {x.shape[0]} covariate rows for {len(battles)} battles")
    if not np.all(np.isfinite(x)):
        bad = int(np.argwhere(~np.isfinite(x))[0, 0])
        raise RatingsError(f"row {bad}: covariates must be finite")
    d = x.shape[1]
    col_names = tuple(names) if names is not None else tuple(f"x{k}" for k in range(d))
    if len(col_names) != d:
        raise RatingsError(f"got {len(col_names)} covariate names for {d} columns")
    if standardize:
        sd = x.std(axis=0)
        if np.any(sd == 0):
            raise RatingsError(f"covariate {col_names[int(np.argmin(sd))]!r} is constant")
        x = x / sd
    m = battles.num_models
    anchor_idx = None
    anchor_value = center
    if anchor is not None:
        if anchor[0] not in battles.models:
            raise UnknownModelError(f"anchor model {anchor[0]!r} is not among the rated models")
        anchor_idx, anchor_value = battles.models.index(anchor[0]), float(anchor[1])
    rows = _group(battles, x)
    yi = np.where(rows.outcome == 0, 1.0, np.where(rows.outcome == 1, 0.0, 0.5))
    wi = np.bincount(rows.pi * m + rows.pj, rows.count * yi, m * m).reshape(m, m)
    wj = np.bincount(rows.pi * m + rows.pj, rows.count * (1 - yi), m * m).reshape(m, m)
    pi, pj = np.nonzero((wi + wj) > 0)
    if prior is None:
        ok = is_strongly_connected(m, pi, pj, wi[pi, pj], wj[pi, pj])
        prior_used = 0.0 if ok else DEFAULT_PRIOR
    else:
        prior_used = float(prior)
    params, ll, iters, conv = _newton(m, rows, rows.count, prior_used, np.zeros(m + d))
    if not conv and prior_used == 0.0:  # e.g. a covariate separates the outcomes
        prior_used = DEFAULT_PRIOR
        params, ll, iters, conv = _newton(m, rows, rows.count, prior_used, np.zeros(m + d))
    to_points = scale / math.log(base)
    ratings = _to_ratings(params[:m], scale, base, center, anchor_idx, anchor_value)
    nan_m, nan_d = np.full(m, np.nan), np.full(d, np.nan)
    lo, hi, clo, chi = nan_m, nan_m, nan_d, nan_d
    if bootstrap_rounds > 0:
        rng = np.random.default_rng(seed)
        pvals = rows.battles / rows.battles.sum()
        samples = np.empty((bootstrap_rounds, m + d))
        for k in range(bootstrap_rounds):
            cnt = rng.multinomial(len(battles), pvals) * rows.weight
            samples[k] = _newton(m, rows, cnt, prior_used, params)[0]
        r_s = _to_ratings(samples[:, :m], scale, base, center, anchor_idx, anchor_value)
        lo, hi, _ = percentile_interval(r_s, confidence)
        clo, chi, _ = percentile_interval(samples[:, m:] * to_points, confidence)
    return StyleResult(
        models=battles.models,
        ratings=ratings,
        coefficients=params[m:] * to_points,
        covariate_names=col_names,
        standardized=standardize,
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
    )
