"""Bradley–Terry maximum likelihood on aggregated pair counts.

Model: ``P(i beats j) = 1 / (1 + base ** ((r_j - r_i) / scale))`` with ``scale=400`` and
``base=10`` (the Elo scale). A tie counts as half a win for each side, which is what
FastChat / LMArena's ``compute_mle_elo`` does. The log-likelihood is concave in the
natural parameters ``theta = r * ln(base) / scale``; we maximise it by damped Newton steps
whose Hessian is the m×m weighted Laplacian of the comparison graph, built from the pair
table in O(pairs). There is no hidden L2 penalty.

Degenerate data
---------------
The MLE is finite exactly when the directed "beat-or-tied" graph is strongly connected
(Zermelo 1929; Ford 1957). When it is not (a model that never lost or never won, disjoint
groups of models, a model without battles) we add an explicit, tiny prior: every model
plays ``prior_strength`` (default :data:`DEFAULT_PRIOR` = 0.01) virtual games against a
virtual model fixed at ``theta = 0``, half won and half lost (a virtual tie). The result
says so (``regularized=True``, ``prior_strength``). Ratings are then finite; a model that
never lost ends up far above the others, with a wide bootstrap interval.

Anchoring
---------
Ratings are determined up to a constant. By default they are shifted so that their mean is
``center`` (1000); with ``anchor=(model, value)`` that model is pinned at ``value`` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.counts import PairCounts
from ratings.errors import UnknownModelError
from ratings.numerics import expit, strongly_connected

__all__ = [
    "DEFAULT_PRIOR",
    "BTResult",
    "fit_bradley_terry",
    "is_strongly_connected",
    "predicted_win_probability",
]

DEFAULT_PRIOR = 0.01
"""Virtual tied games per model against a fixed virtual model, used only when needed."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class BTResult:
    """A Bradley–Terry fit. ``ratings[k]`` belongs to ``models[k]``."""

    models: tuple[str, ...]
    ratings: FloatArray
    theta: FloatArray
    log_likelihood: float
    iterations: int
    converged: bool
    regularized: bool
    prior_strength: float
    anchor: tuple[str, float] | None
    center: float
    scale: float
    base: float

    def as_dict(self) -> dict[str, float]:
        """``{model: rating}``."""
        return dict(zip(self.models, self.ratings.tolist(), strict=True))

    def win_probability(self) -> FloatArray:
        """Predicted ``P(row beats column)`` for every pair (diagonal 0.5)."""
        return predicted_win_probability(self.ratings, self.scale, self.base)


def predicted_win_probability(
    ratings: FloatArray, scale: float = 400.0, base: float = 10.0
) -> FloatArray:
    """Matrix ``P[i, j] = 1 / (1 + base ** ((r_j - r_i) / scale))``."""
    r = np.asarray(ratings, dtype=np.float64)
    return expit((r[:, None] - r[None, :]) * (math.log(base) / scale))


def is_strongly_connected(
    m: int, pi: IntArray, pj: IntArray, wi: FloatArray, wj: FloatArray
) -> bool:
    """Whether the directed graph with an edge ``i → j`` when ``i`` beat (or tied) ``j``
    is strongly connected, i.e. whether the plain MLE exists and is finite."""
    if m <= 1:
        return True
    src = np.concatenate([pi[wi > 0], pj[wj > 0]])
    dst = np.concatenate([pj[wi > 0], pi[wj > 0]])
    if src.shape[0] < m:
        return False
    return strongly_connected(m, src, dst)


def _neg_loglik(
    theta: FloatArray, pi: IntArray, pj: IntArray, wi: FloatArray, wj: FloatArray, prior: float
) -> float:
    d = theta[pi] - theta[pj]
    val = float(wi @ np.logaddexp(0.0, -d) + wj @ np.logaddexp(0.0, d))
    if prior > 0:
        val += 0.5 * prior * float(np.sum(np.logaddexp(0.0, -theta) + np.logaddexp(0.0, theta)))
    return val


def _grad_hess(
    theta: FloatArray,
    m: int,
    pi: IntArray,
    pj: IntArray,
    wi: FloatArray,
    wj: FloatArray,
    prior: float,
) -> tuple[FloatArray, FloatArray]:
    """Gradient of the log-likelihood and the (positive semi-definite) negative Hessian."""
    p = expit(theta[pi] - theta[pj])
    n = wi + wj
    r = wi - n * p
    g = np.asarray(np.bincount(pi, r, m) - np.bincount(pj, r, m), dtype=np.float64)
    c = n * p * (1.0 - p)
    h = np.zeros((m, m))
    h[pi, pj] = -c  # pairs are unique, so plain assignment is a scatter
    h[pj, pi] = -c
    h[np.diag_indices(m)] = -h.sum(axis=1)
    if prior > 0:
        s = expit(theta)
        g += prior * (0.5 - s)
        h[np.diag_indices(m)] += prior * s * (1.0 - s)
    return g, h


def _fit_theta(
    m: int,
    pi: IntArray,
    pj: IntArray,
    wi: FloatArray,
    wj: FloatArray,
    prior: float,
    theta0: FloatArray | None = None,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> tuple[FloatArray, int, bool]:
    """Damped Newton ascent. Without a prior the gauge ``sum(theta) = 0`` is kept by solving
    with ``H + 11ᵀ`` (the gradient is orthogonal to ``1`` and ``H·1 = 0``)."""
    theta = np.zeros(m) if theta0 is None else np.array(theta0, dtype=np.float64)
    if prior <= 0:
        theta -= theta.mean()
    if m == 1:
        return theta, 0, True
    f = _neg_loglik(theta, pi, pj, wi, wj, prior)
    for it in range(1, max_iter + 1):
        g, h = _grad_hess(theta, m, pi, pj, wi, wj, prior)
        if prior <= 0:
            h += 1.0
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        t = 1.0
        slope = float(g @ step)
        while True:
            cand = theta + t * step
            f_new = _neg_loglik(cand, pi, pj, wi, wj, prior)
            if f_new <= f - 1e-4 * t * slope or t < 1e-10:
                break
            t *= 0.5
        theta, f = cand, f_new
        if float(np.max(np.abs(t * step))) < tol:
            return theta, it, True
    return theta, max_iter, False


def _to_ratings(
    theta: FloatArray,
    scale: float,
    base: float,
    center: float,
    anchor_idx: int | None,
    anchor_value: float,
) -> FloatArray:
    """Natural parameters → rating scale, shifted to the mean / anchor convention.

    Works on a vector ``(m,)`` or a batch ``(rounds, m)``."""
    r = theta * (scale / math.log(base))
    if anchor_idx is None:
        return r - r.mean(axis=-1, keepdims=True) + center
    return r - r[..., anchor_idx : anchor_idx + 1] + anchor_value


def fit_bradley_terry(
    counts: PairCounts,
    *,
    anchor: tuple[str, float] | None = None,
    center: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
    prior: float | None = None,
    theta0: FloatArray | None = None,
    tol: float = 1e-10,
) -> BTResult:
    """Bradley–Terry maximum-likelihood ratings from a pair table.

    Parameters
    ----------
    counts
        Output of :func:`ratings.pair_counts`; ties and both-bad ties count half a win each.
    anchor
        ``(model, value)``: pin that model's rating. Default: mean rating = ``center``.
    center, scale, base
        Rating scale: ``r = center + scale * log_base(strength)`` (Elo-like 1000/400/10).
    prior
        ``None`` (default): plain MLE, adding the :data:`DEFAULT_PRIOR` virtual-tie prior
        only when the MLE does not exist (see the module docstring). ``0`` forces no prior
        (ratings may then diverge); a positive value always applies that prior.
    theta0
        Warm start in natural units (``ratings.theta`` of an earlier fit).

    Returns
    -------
    BTResult

    References
    ----------
    Bradley & Terry, Biometrika 39 (1952); Zermelo, Math. Z. 29 (1929); Hunter, Ann. Stat.
    32 (2004); Chiang et al., "Chatbot Arena" (2024) for the tie convention and scale.
    """
    m = counts.num_models
    anchor_idx: int | None = None
    anchor_value = center
    if anchor is not None:
        name, anchor_value = anchor[0], float(anchor[1])
        if name not in counts.models:
            raise UnknownModelError(f"anchor model {name!r} is not among the rated models")
        anchor_idx = counts.models.index(name)
    wi, wj = counts.effective_wins()
    if prior is None:
        connected = is_strongly_connected(m, counts.pair_i, counts.pair_j, wi, wj)
        prior_used = 0.0 if connected else DEFAULT_PRIOR
    else:
        prior_used = float(prior)
    theta, iters, ok = _fit_theta(
        m, counts.pair_i, counts.pair_j, wi, wj, prior_used, theta0=theta0, tol=tol
    )
    ll = -_neg_loglik(theta, counts.pair_i, counts.pair_j, wi, wj, 0.0)
    return BTResult(
        models=counts.models,
        ratings=_to_ratings(theta, scale, base, center, anchor_idx, anchor_value),
        theta=theta,
        log_likelihood=ll,
        iterations=iters,
        converged=ok,
        regularized=prior_used > 0,
        prior_strength=prior_used,
        anchor=None if anchor_idx is None else (counts.models[anchor_idx], anchor_value),
        center=center,
        scale=scale,
        base=base,
    )
