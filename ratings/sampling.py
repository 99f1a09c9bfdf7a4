"""Adaptive pair sampling: which pair of models the next votes should compare.

Each vote on a pair ``(i, j)`` adds Fisher information ``p_ij(1−p_ij)`` along ``e_i − e_j``
to the Bradley–Terry fit. What a leaderboard must settle is the *order* near the top: for the
current ranking we take the contrasts ``θ_a − θ_b`` between adjacent models among the top
``top + 1`` and between the ``top``-th model and every model below it (could it belong in the
top?). A vote on ``(i, j)`` lowers the variance of a contrast ``c`` by the rank-one update

    Δ_c(i, j) = (cᵀ Σ e_ij)² · I_ij / (1 + I_ij · e_ijᵀ Σ e_ij)          (Sherman–Morrison)

and each pair's *expected information* is ``Σ_c w_c · Δ_c(i, j) / Var(c)``, where
``w_c = Φ(−|ĉ| / sd(c))`` is the current probability that the contrast has the wrong sign:
settled contrasts stop attracting votes, a newcomer (huge variance, unknown place) attracts
many. Draw probabilities are proportional to that score, mixed with the operator's uniform
draw (``uniform_mix``: every eligible pair keeps at least that share of its uniform
probability, so no model is starved and inverse-probability weights stay bounded) and
capped per model (``max_model_share`` of all draws, so no model is flooded).

The design depends only on past outcomes, so the Bradley–Terry MLE (and its bootstrap) on
the adaptively collected votes stays consistent without re-weighting; the probabilities are
returned so a caller can also store them for inverse-probability weighting.

References
----------
Chiang et al., "Chatbot Arena: an open platform for evaluating LLMs by human preference"
(ICML 2024), §5 active sampling; Pukelsheim, "Optimal Design of Experiments" (1993) for
variance-reduction designs; Sherman & Morrison (1950).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.numerics import expit

__all__ = [
    "PairSampling",
    "adaptive_pair_probabilities",
    "fisher_covariance",
    "uniform_pair_probabilities",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

UNSEEN_PRIOR = 0.01
"""Ridge (virtual games' information, natural units) that keeps the covariance finite for
models with no or few votes: a model without votes gets a standard deviation of 10 natural
units (≈ 1700 rating points)."""


@dataclass(frozen=True, eq=False)
class PairSampling:
    """Draw probabilities for every unordered pair ``(pair_i[k], pair_j[k])``, ``i < j``.

    ``probability`` sums to 1 over the listed (eligible) pairs; ``score`` is the raw expected
    information (0 for the uniform sampler); ``model_share[i]`` is the probability that
    model ``i`` is in the next battle (the shares sum to 2).
    """

    num_models: int
    pair_i: IntArray
    pair_j: IntArray
    probability: FloatArray
    score: FloatArray

    @property
    def model_share(self) -> FloatArray:
        """Probability that each model takes part in the next battle."""
        m = self.num_models
        return np.asarray(
            np.bincount(self.pair_i, self.probability, m)
            + np.bincount(self.pair_j, self.probability, m),
            dtype=np.float64,
        )

    def matrix(self) -> FloatArray:
        """Symmetric ``(m, m)`` matrix of pair probabilities (each pair once per triangle)."""
        out = np.zeros((self.num_models, self.num_models))
        out[self.pair_i, self.pair_j] = self.probability
        out[self.pair_j, self.pair_i] = self.probability
        return out

    def draw(self, rng: np.random.Generator, size: int) -> tuple[IntArray, IntArray, FloatArray]:
        """``size`` independent draws: ``(model_a, model_b, probability)`` with the sides in
        random order and the probability of the unordered pair drawn."""
        k = rng.choice(self.probability.shape[0], size=size, p=self.probability)
        a, b = self.pair_i[k], self.pair_j[k]
        flip = rng.random(size) < 0.5
        return np.where(flip, b, a), np.where(flip, a, b), self.probability[k]


def _to_natural(scale: float, base: float) -> float:
    return math.log(base) / scale


def fisher_covariance(
    ratings: npt.ArrayLike,
    games: npt.ArrayLike,
    *,
    ties: npt.ArrayLike | None = None,
    scale: float = 400.0,
    base: float = 10.0,
    ridge: float = UNSEEN_PRIOR,
) -> FloatArray:
    """Approximate covariance of Bradley–Terry ratings (rating points²) from the information
    of the games played. Only contrasts (differences of ratings) are meaningful.

    ``games`` is the symmetric ``(m, m)`` matrix of battle counts. Without ``ties`` this is
    the inverse Fisher information ``(H + ridge·I)⁻¹``, ``H`` the Laplacian of
    ``n_ij p_ij (1 − p_ij)``. A tie scores ½ and so varies less than a win or a loss: with the
    symmetric matrix of tie counts the sandwich ``H⁻¹ J H⁻¹`` is returned, ``J`` the Laplacian
    of the score variances ``n_ij p_ij (1 − p_ij) − t_ij / 4``. It agrees with the battle
    bootstrap of :func:`ratings.bootstrap_bradley_terry` (the plain inverse overstates the
    standard deviations by ``≈ 1/√(1 − tie share)``).
    """
    r = np.asarray(ratings, dtype=np.float64)
    n = np.asarray(games, dtype=np.float64)
    k = _to_natural(scale, base)
    p = expit((r[:, None] - r[None, :]) * k)
    var = p * (1.0 - p)

    def laplacian(w: FloatArray, extra: float) -> FloatArray:
        lap = -w
        lap[np.diag_indices_from(lap)] = 0.0
        lap[np.diag_indices_from(lap)] = -lap.sum(axis=1) + extra
        return lap

    h_inv = np.linalg.inv(laplacian(n * var, ridge))
    if ties is None:
        out: FloatArray = np.asarray(h_inv / (k * k), dtype=np.float64)
        return out
    t = np.asarray(ties, dtype=np.float64)
    j = laplacian(np.maximum(n * var - 0.25 * t, 0.05 * n * var), ridge)
    out = h_inv @ j @ h_inv / (k * k)
    return out


def _all_pairs(eligible: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    idx = np.flatnonzero(eligible)
    i, j = np.triu_indices(idx.shape[0], k=1)
    return idx[i].astype(np.int64), idx[j].astype(np.int64)


def uniform_pair_probabilities(
    num_models: int, *, weights: npt.ArrayLike | None = None
) -> PairSampling:
    """The plain sampler: pair ``(i, j)`` with probability ∝ ``w_i · w_j`` (uniform when no
    operator weights are given; a weight of 0 excludes the model)."""
    w = np.ones(num_models) if weights is None else np.asarray(weights, dtype=np.float64)
    pi, pj = _all_pairs(w > 0)
    if pi.shape[0] == 0:
        raise ValueError("need at least two models with a positive weight")
    prob = w[pi] * w[pj]
    return PairSampling(num_models, pi, pj, prob / prob.sum(), np.zeros(pi.shape[0]))


def _contrasts(ratings: FloatArray, eligible: npt.NDArray[np.bool_], top: int | None) -> IntArray:
    """``(K, 2)`` index pairs ``(a, b)`` whose sign decides the ranking near the top."""
    order = [int(k) for k in np.argsort(-ratings, kind="stable") if eligible[k]]
    if top is None or top >= len(order) - 1:
        return np.array([(order[r], order[r + 1]) for r in range(len(order) - 1)], dtype=np.int64)
    pairs = [(order[r], order[r + 1]) for r in range(top)]
    pairs += [(order[top - 1], order[r]) for r in range(top + 1, len(order))]
    return np.array(pairs, dtype=np.int64)


def _cap_shares(
    prob: FloatArray, pi: IntArray, pj: IntArray, m: int, cap: FloatArray, iters: int = 100
) -> FloatArray:
    """Scale down the pairs of models whose share of battles exceeds their ``cap`` and hand
    the mass removed to pairs of models not yet at their cap (water-filling), total 1."""
    p = prob.copy()
    full = np.zeros(m, dtype=bool)
    for _ in range(iters):
        share = np.bincount(pi, p, m) + np.bincount(pj, p, m)
        over = share > cap * (1 + 1e-12)
        if not over.any():
            break
        factor = np.ones(m)
        factor[over] = cap[over] / share[over]
        p = p * np.minimum(factor[pi], factor[pj])
        full |= over
        free = ~full[pi] & ~full[pj]
        removed = 1.0 - float(p.sum())
        if not free.any():
            break
        mass = float(p[free].sum())
        p[free] += removed * (p[free] / mass if mass > 0 else 1.0 / int(free.sum()))
    out: FloatArray = p / p.sum()
    return out


def adaptive_pair_probabilities(
    ratings: npt.ArrayLike,
    covariance: npt.ArrayLike,
    *,
    top: int | None = 10,
    weights: npt.ArrayLike | None = None,
    uniform_mix: float = 0.15,
    max_model_share: float = 0.25,
    scale: float = 400.0,
    base: float = 10.0,
) -> PairSampling:
    """Draw probabilities for every eligible pair by expected information (module docstring).

    Parameters
    ----------
    ratings
        Current ratings (rating points, any centring); a model without votes can be given
        any value (e.g. the mean) with a huge variance.
    covariance
        ``(m, m)`` covariance of the ratings (rating points²): :func:`fisher_covariance`, or
        ``np.cov(bootstrap_samples, rowvar=False)`` plus a ridge for unseen models.
    top
        How many places at the top must be ordered (``None``: the whole ranking).
    weights
        Operator weights per model; 0 excludes a model, the uniform part is ∝ ``w_i·w_j``
        (default all 1).
    uniform_mix
        Share of the draws taken from the uniform sampler (the floor of every pair's
        probability, relative to uniform; 0 < ``uniform_mix`` ≤ 1).
    max_model_share
        Most a single model may take part in (a probability of being in a battle; raised to
        ``2 / eligible`` if lower, which is what uniform gives).
    scale, base
        The rating scale (Elo-like 400 / 10).
    """
    r = np.asarray(ratings, dtype=np.float64)
    m = r.shape[0]
    if not 0.0 < uniform_mix <= 1.0:
        raise ValueError(f"uniform_mix must be in (0, 1], got {uniform_mix}")
    uniform = uniform_pair_probabilities(m, weights=weights)
    pi, pj = uniform.pair_i, uniform.pair_j
    eligible = np.zeros(m, dtype=bool)
    eligible[pi] = True
    eligible[pj] = True
    k = _to_natural(scale, base)
    sigma = np.asarray(covariance, dtype=np.float64) * (k * k)
    theta = r * k
    con = _contrasts(r, eligible, top)
    ca, cb = con[:, 0], con[:, 1]
    est = theta[ca] - theta[cb]
    var_c = np.maximum(sigma[ca, ca] + sigma[cb, cb] - 2 * sigma[ca, cb], 1e-300)
    sd_c = np.sqrt(var_c)
    wrong = 0.5 * np.vectorize(math.erfc)(np.abs(est) / sd_c / math.sqrt(2.0))
    a_mat = sigma[:, ca] - sigma[:, cb]  # Σ c for every contrast, (m, K)
    p = expit(theta[pi] - theta[pj])
    info = p * (1.0 - p)
    v_pair = sigma[pi, pi] + sigma[pj, pj] - 2 * sigma[pi, pj]
    gain = (a_mat[pi] - a_mat[pj]) ** 2  # (pairs, K)
    score = (gain @ (wrong / var_c)) * info / (1.0 + info * v_pair)
    total = float(score.sum())
    adaptive = score / total if total > 0 and np.isfinite(total) else uniform.probability
    cap = max(max_model_share, 2.0 / int(eligible.sum()))
    if uniform_mix < 1.0 and cap < 1.0:
        # cap the adaptive part so that, mixed with the uniform floor, no model exceeds `cap`
        u_share = uniform.model_share
        room = (cap - uniform_mix * u_share) / (1.0 - uniform_mix)
        adaptive = _cap_shares(adaptive, pi, pj, m, np.maximum(room, u_share))
    prob = uniform_mix * uniform.probability + (1.0 - uniform_mix) * adaptive
    return PairSampling(m, pi, pj, prob, score)
