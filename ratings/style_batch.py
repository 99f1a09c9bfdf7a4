"""The batched chord-Newton machinery that fits every style-control bootstrap round at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from ratings.style_design import _Rows

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
