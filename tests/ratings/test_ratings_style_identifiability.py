"""Style control that cannot silently fail: unidentifiable covariates are dropped, and said."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ratings import (
    Battles,
    compute_leaderboard,
    fit_bradley_terry,
    fit_bradley_terry_with_covariates,
    pair_counts,
    simulate_battles,
)
from ratings.outcomes import WINNER_STRINGS, Winner
from ratings.style import style_identifiability

TRUTH = np.array([0.0, 100.0, -50.0, 30.0, 200.0, -120.0])
LN10 = math.log(10)


def styled(n: int, seed: int, x: np.ndarray | None = None, effect: float = 0.5) -> Battles:
    """Battles whose outcome depends on the ratings and on ``effect · x`` (no ties)."""
    rng = np.random.default_rng(seed)
    b = simulate_battles(TRUTH, n, seed=seed)
    xx = np.zeros(n) if x is None else x
    z = LN10 / 400 * (TRUTH[b.model_a] - TRUTH[b.model_b]) + effect * xx
    win = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), Winner.A, Winner.B).astype(np.int8)
    return Battles(b.models, b.model_a, b.model_b, win)


def per_model_feature(b: Battles, seed: int, jitter: float = 0.0) -> np.ndarray:
    """A feature fixed per model (e.g. the resolution its provider always returns)."""
    rng = np.random.default_rng(seed)
    g = rng.choice([512.0, 768.0, 1024.0], size=b.num_models)
    f_a = g[b.model_a] + jitter * rng.normal(size=len(b))
    f_b = g[b.model_b] + jitter * rng.normal(size=len(b))
    return f_a - f_b


@pytest.mark.parametrize("jitter", [0.0, 0.5])
def test_covariate_constant_per_model_is_dropped_and_ratings_equal_plain_bt(
    jitter: float,
) -> None:
    b = simulate_battles(TRUTH, 5000, seed=1, tie_rate=0.3)
    x = per_model_feature(b, seed=2, jitter=jitter)
    res = fit_bradley_terry_with_covariates(b, x, names=["pixels"], bootstrap_rounds=50, seed=0)
    plain = fit_bradley_terry(pair_counts(b))
    assert not res.identified
    assert res.dropped == ("pixels",) and res.covariate_names == ()
    assert res.requested_covariates == ("pixels",)
    assert res.notices[0].covariate == "pixels" and res.notices[0].reason == "within_model"
    assert "constant within each model" in res.notices[0].message
    assert res.notices[-1].reason == "not_identified"
    assert "not identified" in res.notice_messages()[-1]
    assert np.allclose(res.ratings, plain.ratings, atol=1e-5)
    assert res.within_model_share is not None and res.within_model_share[0] < 0.01
    # intervals stay those of a plain fit, not hundreds of points wide
    assert np.all(res.ci_high - res.ci_low < 80)


def test_covariate_constant_per_model_next_to_a_good_one_keeps_the_good_one() -> None:
    b0 = simulate_battles(TRUTH, 8000, seed=3)
    rng = np.random.default_rng(4)
    good = rng.normal(size=len(b0))
    b = styled(8000, 3, good)
    x = np.column_stack([per_model_feature(b, seed=5), good])
    res = fit_bradley_terry_with_covariates(b, x, names=["pixels", "len"], standardize=False)
    assert res.identified and res.covariate_names == ("len",) and res.dropped == ("pixels",)
    assert res.coefficients.shape == (1,)
    assert res.design_rank == b.num_models - 1 + 1
    assert res.condition_number == pytest.approx(1.0)


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_collinear_covariates_keep_one(noise: float) -> None:
    rng = np.random.default_rng(6)
    b0 = simulate_battles(TRUTH, 4000, seed=6)
    x1 = rng.normal(size=len(b0))
    b = styled(4000, 6, x1)
    x2 = 2.0 * x1 + noise * rng.normal(size=len(b))
    res = fit_bradley_terry_with_covariates(b, np.column_stack([x1, x2]), names=["len", "words"])
    assert res.identified and res.covariate_names == ("len",) and res.dropped == ("words",)
    (notice,) = res.notices
    assert notice.reason == "collinear" and "'len'" in notice.message
    assert np.isfinite(res.coefficients).all()


def test_well_identified_covariate_is_kept_and_recovered_within_its_interval() -> None:
    rng = np.random.default_rng(7)
    n = 6000
    x = rng.normal(size=n)
    b = styled(n, 7, x, effect=0.4)
    res = fit_bradley_terry_with_covariates(
        b, x, names=["len"], standardize=False, bootstrap_rounds=200, seed=1
    )
    true_coef = 0.4 * 400 / LN10
    assert res.identified and res.notices == () and res.dropped == ()
    assert res.coef_ci_low[0] <= true_coef <= res.coef_ci_high[0]
    assert res.coef_ci_high[0] - res.coef_ci_low[0] < 0.3 * true_coef
    assert res.within_model_share is not None and res.within_model_share[0] > 0.9
    truth = TRUTH - TRUTH.mean() + 1000
    assert np.sum((res.ci_low <= truth) & (truth <= res.ci_high)) >= 5


def test_identifiability_alone_matches_the_fit() -> None:
    b = simulate_battles(TRUTH, 3000, seed=8)
    x = np.column_stack([per_model_feature(b, 9), np.random.default_rng(9).normal(size=3000)])
    check = style_identifiability(b, x, names=["pixels", "len"])
    assert check.kept == (1,) and [n.covariate for n in check.notices] == ["pixels"]


def test_leaderboard_reports_unidentified_style_control() -> None:
    b = simulate_battles(TRUTH, 2000, seed=10, tie_rate=0.2)
    rows = [
        (b.models[a], b.models[c], WINNER_STRINGS[Winner(w)])
        for a, c, w in zip(b.model_a.tolist(), b.model_b.tolist(), b.winner.tolist(), strict=True)
    ]
    lb = compute_leaderboard(
        rows, bootstrap_rounds=20, covariates=per_model_feature(b, 11), covariate_names=["px"]
    )
    assert lb.style is not None and not lb.style.identified
    style = lb.to_dict()["style"]
    assert style["identified"] is False and style["dropped"] == ["px"]
    assert style["covariates"] == [] and style["coefficients"] == []
    assert any("constant within each model" in text for text in style["notices"])
    for r in lb.rows:
        assert r.style_rating == pytest.approx(r.rating, abs=1e-4)
