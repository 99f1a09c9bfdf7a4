from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from ratings import (
    Battles,
    RatingsError,
    compute_leaderboard,
    fit_bradley_terry,
    fit_bradley_terry_with_covariates,
    pair_counts,
    simulate_battles,
)
from ratings.outcomes import WINNER_STRINGS, Winner

TRUTH = np.array([0.0, 100.0, -50.0, 30.0, 200.0])
LN10 = math.log(10)


def styled_battles(
    n: int, seed: int, effect: float = 0.5, tie_rate: float = 0.1
) -> tuple[Battles, np.ndarray]:
    """Battles whose outcome also depends on a covariate (e.g. a length difference)."""
    rng = np.random.default_rng(seed)
    b = simulate_battles(TRUTH, n, seed=seed)
    x = rng.normal(size=n)
    z = LN10 / 400 * (TRUTH[b.model_a] - TRUTH[b.model_b]) + effect * x
    win = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), Winner.A, Winner.B).astype(np.int8)
    tie = rng.random(n) < tie_rate
    win[tie] = Winner.TIE
    return Battles(b.models, b.model_a, b.model_b, win), x


def test_recovers_effect_and_matches_oracle() -> None:
    b, x = styled_battles(6000, 1)
    res = fit_bradley_terry_with_covariates(b, x, names=["len"], standardize=False)
    assert res.converged and not res.regularized
    m = b.num_models
    rows_x, ys, ws = [], [], []
    for a, c, w, xv in zip(b.model_a, b.model_b, b.winner, x, strict=True):
        v = np.zeros(m + 1)
        v[a], v[c], v[m] = 1.0, -1.0, xv
        targets = (
            [(1.0, 1.0)]
            if w == Winner.A
            else [(0.0, 1.0)]
            if w == Winner.B
            else [(1.0, 0.5), (0.0, 0.5)]
        )
        for y, wt in targets:
            rows_x.append(v), ys.append(y), ws.append(wt)
    xm, y, w = np.array(rows_x), np.array(ys), np.array(ws)

    def f(p: np.ndarray) -> tuple[float, np.ndarray]:
        z = xm @ p
        return float(np.sum(w * (np.logaddexp(0, z) - y * z))), xm.T @ (
            w * (1 / (1 + np.exp(-z)) - y)
        )

    def hess(p: np.ndarray) -> np.ndarray:
        q = 1 / (1 + np.exp(-(xm @ p)))
        return (xm * (w * q * (1 - q))[:, None]).T @ xm + 1e-12 * np.eye(m + 1)

    ref = minimize(
        f, np.zeros(m + 1), jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-11}
    ).x
    ref_r = 400 / LN10 * ref[:m]
    ref_r = ref_r - ref_r.mean() + 1000
    assert np.max(np.abs(res.ratings - ref_r)) < 0.01
    assert res.coefficients[0] == pytest.approx(400 / LN10 * ref[m], abs=0.01)
    # without ties (which attenuate every effect) the true effect is recovered
    b0, x0 = styled_battles(6000, 1, tie_rate=0.0)
    res0 = fit_bradley_terry_with_covariates(b0, x0, standardize=False)
    assert res0.coefficients[0] == pytest.approx(0.5 * 400 / LN10, rel=0.1)


def test_zero_covariate_equals_plain_bt() -> None:
    b = simulate_battles(TRUTH, 3000, seed=2, tie_rate=0.2)
    x = np.zeros((len(b), 1))
    res = fit_bradley_terry_with_covariates(b, x, standardize=False)
    plain = fit_bradley_terry(pair_counts(b))
    assert np.allclose(res.ratings, plain.ratings, atol=1e-6)
    # a covariate that never varies is dropped with a notice (it used to be fitted as 0)
    assert res.dropped == ("x0",) and res.coefficients.shape == (0,) and not res.identified
    assert [n.reason for n in res.notices] == ["no_variation", "not_identified"]
    assert res.rows <= 3 * 10  # discrete covariates pool to (pair, outcome) groups


def test_swap_invariance_and_bootstrap() -> None:
    b, x = styled_battles(3000, 3)
    flip = np.array([1, 0, 2, 3], dtype=np.int8)[b.winner]
    swapped = Battles(b.models, b.model_b, b.model_a, flip)
    r1 = fit_bradley_terry_with_covariates(b, x, bootstrap_rounds=30, seed=1)
    r2 = fit_bradley_terry_with_covariates(swapped, -x, bootstrap_rounds=30, seed=1)
    assert np.allclose(r1.ratings, r2.ratings, atol=1e-7)
    assert np.allclose(r1.coefficients, r2.coefficients, atol=1e-7)
    assert np.all(r1.ci_low <= r1.ratings) and np.all(r1.ratings <= r1.ci_high)
    assert r1.coef_ci_low[0] <= r1.coefficients[0] <= r1.coef_ci_high[0]


def test_errors() -> None:
    b, x = styled_battles(200, 4)
    with pytest.raises(RatingsError, match="covariate rows"):
        fit_bradley_terry_with_covariates(b, x[:-1])
    with pytest.raises(RatingsError, match="constant"):
        fit_bradley_terry_with_covariates(b, np.ones(len(b)))
    x2 = x.copy()
    x2[7] = np.nan
    with pytest.raises(RatingsError, match="row 7"):
        fit_bradley_terry_with_covariates(b, x2)


def test_separating_covariate_is_regularized() -> None:
    rows = [("a", "b", "model_a"), ("a", "b", "model_b"), ("b", "a", "model_a")] * 4
    x = np.array([1.0 if w == "model_a" else -1.0 for _, _, w in rows])
    from ratings import load_battles

    res = fit_bradley_terry_with_covariates(load_battles(rows), x, standardize=False)
    assert res.regularized and np.all(np.isfinite(res.ratings))
    assert np.isfinite(res.coefficients).all()


def test_leaderboard_with_covariates_and_filtering() -> None:
    b, x = styled_battles(2000, 5)
    rows = [
        (b.models[a], b.models[c], WINNER_STRINGS[Winner(w)])
        for a, c, w in zip(b.model_a.tolist(), b.model_b.tolist(), b.winner.tolist(), strict=True)
    ]
    lb = compute_leaderboard(
        rows, bootstrap_rounds=20, covariates=x, covariate_names=["len"], exclude_ties=True
    )
    assert lb.style is not None and lb.style.covariate_names == ("len",)
    for r in lb.rows:
        assert math.isfinite(r.style_rating) and r.style_ci_low <= r.style_ci_high
    assert lb.to_dict()["style"]["covariates"] == ["len"]
    with pytest.raises(RatingsError):
        compute_leaderboard(rows, bootstrap_rounds=0, covariates=x[:10])
