"""Bootstrap confidence intervals for Bradley–Terry and online Elo ratings.

Resampling ``N`` battles with replacement is the same as drawing a multinomial
``(N; c_1/N, …, c_K/N)`` over the distinct cells of the battle table (pair × outcome ×
weight), so each Bradley–Terry round costs O(cells) draws plus an O(pairs) fit, never
O(battles). Rounds are fitted in batches, warm-started at the point estimate, with
chord-Newton steps that reuse the point estimate's Hessian (the rounds differ from the point
estimate by O(1/√N), so a handful of steps reach 1e-9 in natural units).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.bt import (
    DEFAULT_PRIOR,
    BTResult,
    _fit_theta,
    _grad_hess,
    _to_ratings,
    fit_bradley_terry,
    is_strongly_connected,
)
from ratings.counts import PairCounts, battle_cells, pair_counts
from ratings.elo import DEFAULT_ELO, EloParams, bootstrap_online_elo
from ratings.numerics import PairSums
from ratings.outcomes import Battles

__all__ = [
    "BootstrapResult",
    "bootstrap_bradley_terry",
    "bootstrap_elo",
    "multinomial_rows",
    "percentile_interval",
]

FloatArray = npt.NDArray[np.float64]
_CHUNK_ELEMENTS = 2_000_000  # rounds × cells drawn at once (bounds memory to ~16 MB)


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Bootstrap replicates (``samples[round, model]``) and percentile intervals."""

    models: tuple[str, ...]
    samples: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    median: FloatArray
    rounds: int
    seed: int
    confidence: float
    regularized_rounds: int


def percentile_interval(
    samples: FloatArray, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Percentile interval ``(low, high, median)`` per column (linear interpolation, as
    ``pandas.DataFrame.quantile`` in FastChat's ``get_bootstrap_result``)."""
    alpha = (1.0 - confidence) / 2.0
    q = np.quantile(samples, [alpha, 1.0 - alpha, 0.5], axis=0)
    return q[0], q[1], q[2]


@dataclass(frozen=True, eq=False)
class _Cells:
    """Resampling cells sorted by pair: probabilities, contributions to the effective wins
    of ``pair_i`` / ``pair_j`` per drawn battle, and where each pair's cells start.

    Unweighted data uses a fixed layout of three cells per pair (``i`` wins, ``j`` wins,
    tie), so the draws reshape to ``(rounds, pairs, 3)`` with no scatter at all."""

    pvals: FloatArray
    coef_i: FloatArray
    coef_j: FloatArray
    starts: npt.NDArray[np.int64]
    total: int
    three_per_pair: bool

    def effective_wins(self, draws: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
        """Per-pair effective wins ``(pairs, rounds)`` from cell draws ``(rounds, cells)``."""
        if self.three_per_pair:
            half_tie = 0.5 * draws[:, 2::3]
            wi = (draws[:, 0::3] + half_tie).T.copy()
            wj = (draws[:, 1::3] + half_tie).T.copy()
            return wi, wj
        ends = np.append(self.starts[1:], draws.shape[1]) - 1
        out = []
        for coef in (self.coef_i, self.coef_j):
            cum = np.cumsum(draws * coef, axis=1)[:, ends]
            out.append(np.diff(cum, axis=1, prepend=0.0).T.copy())
        return out[0], out[1]


def _cells(battles: Battles, counts: PairCounts) -> _Cells:
    if battles.weights is None:
        tie = counts.ties + counts.both_bad
        count = np.stack([counts.wins_i, counts.wins_j, tie], axis=1).reshape(-1)
        pair = np.repeat(np.arange(counts.num_pairs), 3)
        outcome = np.tile(np.arange(3), counts.num_pairs)
        weight = np.ones(pair.shape[0])
    else:
        cells = battle_cells(battles, counts)  # sorted by pair
        pair, outcome, weight = cells.pair, np.minimum(cells.outcome, 2), cells.weight
        count = cells.count.astype(np.float64)
    coef_i = np.where(outcome == 0, 1.0, np.where(outcome == 1, 0.0, 0.5)) * weight
    coef_j = np.where(outcome == 1, 1.0, np.where(outcome == 0, 0.0, 0.5)) * weight
    first = np.ones(pair.shape[0], dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    return _Cells(
        pvals=count / count.sum(),
        coef_i=coef_i,
        coef_j=coef_j,
        starts=np.flatnonzero(first),
        total=int(round(count.sum())),
        three_per_pair=battles.weights is None,
    )


def multinomial_rows(
    rng: np.random.Generator, n: int, pvals: FloatArray, size: int
) -> npt.NDArray[np.int64]:
    """``size`` exact draws of Multinomial(n, pvals), about twice as fast as
    ``Generator.multinomial`` for large tables.

    Poissonisation with exact correction: draw independent ``X_k ~ Poisson(n p_k)``; given
    their sum ``s`` they are Multinomial(s, p), i.e. the cell counts of ``s`` i.i.d.
    categorical draws. If ``s > n`` we delete ``s - n`` of those draws chosen uniformly
    without replacement, if ``s < n`` we add ``n - s`` fresh categorical draws; either way
    what is left is the cell counts of ``n`` i.i.d. draws, so the result is exactly
    Multinomial(n, p) (conditionally on every ``s``, hence unconditionally). The correction
    touches only ``|s - n| ~ √n`` draws per row.
    """
    k = pvals.shape[0]
    x = rng.poisson(n * pvals, size=(size, k))
    sums = x.sum(axis=1)
    cdf = np.cumsum(pvals)
    cdf /= cdf[-1]
    # Sorted keys make searchsorted start each search where the last one ended (a faster
    # walk); the counts do not depend on the order, nor does the random stream.
    for r in np.flatnonzero(sums != n):
        s = int(sums[r])
        if s < n:
            extra = np.searchsorted(cdf, np.sort(rng.random(n - s)), side="right")
            x[r] += np.bincount(np.minimum(extra, k - 1), minlength=k)
        else:
            drop = np.sort(rng.choice(s, size=s - n, replace=False))
            cells = np.searchsorted(np.cumsum(x[r]), drop, side="right")
            x[r] -= np.bincount(cells, minlength=k)
    return x


def _sigmoid(x: FloatArray) -> FloatArray:
    """Logistic function, in place on a temporary (faster than ``scipy.special.expit``)."""
    with np.errstate(over="ignore"):
        e = np.exp(-x)
    np.add(e, 1.0, out=e)
    return np.reciprocal(e, out=e)


def _incidence(counts: PairCounts) -> PairSums:
    """Maps per-pair residuals ``(pairs, rounds)`` to per-model gradients: +1 at ``pair_i``,
    −1 at ``pair_j`` (the product with the models × pairs incidence matrix)."""
    return PairSums(counts.num_models, counts.pair_i, counts.pair_j)


def _batched_fit(
    counts: PairCounts,
    wi: FloatArray,
    wj: FloatArray,
    theta_hat: FloatArray,
    minv: FloatArray,
    prior: float,
    tol: float = 1e-7,
    max_iter: int = 60,
    inc: PairSums | None = None,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Chord-Newton for many rounds at once; ``wi``/``wj`` are (pairs, rounds).

    Every step reuses the inverse Hessian ``minv`` of the point estimate; the error shrinks
    by a factor of about ``1/√(battles per pair)`` per step. Stops when no coordinate moves
    by more than ``tol`` (natural units; 1e-7 ≈ 2e-5 rating points).
    Returns ``theta`` (models, rounds) and a per-round converged flag."""
    pi, pj = counts.pair_i, counts.pair_j
    rounds = wi.shape[1]
    if inc is None:
        inc = _incidence(counts)
    n = wi + wj
    theta = np.repeat(theta_hat[:, None], rounds, axis=1)
    moved = np.full(rounds, np.inf)
    for _ in range(max_iter):
        p = _sigmoid(theta[pi] - theta[pj])
        np.multiply(n, p, out=p)
        np.subtract(wi, p, out=p)
        g = inc(p)
        if prior > 0:
            g += prior * (0.5 - _sigmoid(theta))
        step = np.einsum("ij,jk->ik", minv, g)  # no BLAS: its threads fight our workers
        theta += step
        moved = np.max(np.abs(step), axis=0)
        if np.all(moved < tol) or not np.all(np.isfinite(moved)):
            break
    return theta, moved < tol


def bootstrap_bradley_terry(
    battles: Battles,
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    point: BTResult | None = None,
    counts: PairCounts | None = None,
    anchor: tuple[str, float] | None = None,
    center: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
    prior: float | None = None,
    workers: int | None = None,
) -> BootstrapResult:
    """Percentile bootstrap of Bradley–Terry ratings by multinomial resampling of the table.

    Parameters
    ----------
    battles
        The battles (with optional weights; weighted battles are resampled as battles, each
        keeping its weight).
    rounds, seed, confidence
        Number of rounds (≥ 1), seed of the ``numpy.random.Generator`` streams (rounds are
        cut into fixed chunks, each with its own ``SeedSequence.spawn`` child, so the output
        is identical for a given seed whatever ``workers``), and interval level.
    point, counts
        The point fit / pair table if already computed (warm start, saves work).
    anchor, center, scale, base, prior
        As in :func:`ratings.fit_bradley_terry`. With ``prior=None`` a round gets the
        :data:`~ratings.bt.DEFAULT_PRIOR` prior only if its own MLE does not exist
        (counted in ``regularized_rounds``).
    workers
        Threads (default: up to 2). numpy releases the GIL in the multinomial draws.

    References
    ----------
    Efron & Tibshirani, "An Introduction to the Bootstrap" (1993), ch. 13; Chiang et al.
    (2024) for the arena's bootstrap.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    if counts is None:
        counts = pair_counts(battles)
    if point is None:
        point = fit_bradley_terry(
            counts, anchor=anchor, center=center, scale=scale, base=base, prior=prior
        )
    m = counts.num_models
    anchor_idx = None if anchor is None else counts.models.index(anchor[0])
    anchor_value = center if anchor is None else float(anchor[1])
    base_prior = point.prior_strength
    theta_hat = point.theta
    wi0, wj0 = counts.effective_wins()
    _, h0 = _grad_hess(theta_hat, m, counts.pair_i, counts.pair_j, wi0, wj0, base_prior)
    if base_prior <= 0:
        h0 += 1.0
    minv = np.asarray(np.linalg.pinv(h0, hermitian=True), dtype=np.float64)
    cells = _cells(battles, counts)
    inc = _incidence(counts)
    n_cells = cells.pvals.shape[0]
    chunk = max(1, min(rounds, _CHUNK_ELEMENTS // max(n_cells, 1)))
    starts = list(range(0, rounds, chunk))
    children = np.random.SeedSequence(seed).spawn(len(starts))
    auto_prior = prior is None and base_prior <= 0

    def run_chunk(k: int) -> tuple[FloatArray, int]:
        size = min(chunk, rounds - starts[k])
        rng = np.random.default_rng(children[k])
        draws = multinomial_rows(rng, cells.total, cells.pvals, size)  # (size, cells)
        wi, wj = cells.effective_wins(draws)
        del draws
        needs_prior = np.zeros(size, dtype=bool)
        if auto_prior:
            lost = ((wi0 > 0)[:, None] & (wi == 0)) | ((wj0 > 0)[:, None] & (wj == 0))
            for col in np.flatnonzero(lost.any(axis=0)):
                needs_prior[col] = not is_strongly_connected(
                    m, counts.pair_i, counts.pair_j, wi[:, col], wj[:, col]
                )
        ok_cols = np.flatnonzero(~needs_prior)
        theta = np.empty((m, size))
        if needs_prior.any():
            wi_ok = np.ascontiguousarray(wi[:, ok_cols], dtype=np.float64)
            wj_ok = np.ascontiguousarray(wj[:, ok_cols], dtype=np.float64)
        else:
            wi_ok, wj_ok = wi, wj
        th, conv = _batched_fit(counts, wi_ok, wj_ok, theta_hat, minv, base_prior, inc=inc)
        theta[:, ok_cols] = th
        redo = list(ok_cols[~conv]) + list(np.flatnonzero(needs_prior))
        for col in redo:
            pr = DEFAULT_PRIOR if needs_prior[col] else base_prior
            theta[:, col] = _fit_theta(
                m, counts.pair_i, counts.pair_j, wi[:, col], wj[:, col], pr, theta0=theta_hat
            )[0]
        return theta.T, int(needs_prior.sum())

    n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if n_workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(n_workers) as ex:
            parts = list(ex.map(run_chunk, range(len(starts))))
    else:
        parts = [run_chunk(k) for k in range(len(starts))]
    theta_all = np.concatenate([p[0] for p in parts], axis=0)
    samples = _to_ratings(theta_all, scale, base, center, anchor_idx, anchor_value)
    low, high, med = percentile_interval(samples, confidence)
    return BootstrapResult(
        models=counts.models,
        samples=samples,
        ci_low=low,
        ci_high=high,
        median=med,
        rounds=rounds,
        seed=seed,
        confidence=confidence,
        regularized_rounds=sum(p[1] for p in parts) + (rounds if base_prior > 0 else 0),
    )


def bootstrap_elo(
    battles: Battles,
    *,
    rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    params: EloParams = DEFAULT_ELO,
    anchor: tuple[str, float] | None = None,
) -> BootstrapResult:
    """Percentile bootstrap of online Elo (FastChat ``get_bootstrap_result`` semantics:
    resample battles with replacement, replay in the resampled order).

    Cost is O(rounds × battles); fine for thousands of battles, slow for millions.
    With ``anchor=(model, value)`` every round is shifted to pin that model.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    rng = np.random.default_rng(seed)
    samples = bootstrap_online_elo(battles, rounds, rng, params)
    if anchor is not None:
        k = battles.index_of(anchor[0])
        samples = samples - samples[:, k : k + 1] + float(anchor[1])
    low, high, med = percentile_interval(samples, confidence)
    return BootstrapResult(
        models=battles.models,
        samples=samples,
        ci_low=low,
        ci_high=high,
        median=med,
        rounds=rounds,
        seed=seed,
        confidence=confidence,
        regularized_rounds=0,
    )
