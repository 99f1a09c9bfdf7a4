from __future__ import annotations

import numpy as np
import pytest

from ratings import (
    Battles,
    bootstrap_bradley_terry,
    bootstrap_elo,
    fit_bradley_terry,
    load_battles,
    pair_counts,
    simulate_battles,
)

TRUTH = np.array([0.0, 120.0, -60.0, 35.0, 200.0, -150.0])


def centred(x: np.ndarray) -> np.ndarray:
    return x - x.mean() + 1000


def test_same_seed_same_output_and_workers_do_not_matter() -> None:
    b = simulate_battles(TRUTH, 4000, seed=1, tie_rate=0.2)
    one = bootstrap_bradley_terry(b, rounds=300, seed=7, workers=1)
    two = bootstrap_bradley_terry(b, rounds=300, seed=7, workers=2)
    again = bootstrap_bradley_terry(b, rounds=300, seed=7)
    assert np.array_equal(one.samples, two.samples)
    assert np.array_equal(one.samples, again.samples)
    other = bootstrap_bradley_terry(b, rounds=300, seed=8)
    assert not np.array_equal(one.samples, other.samples)
    assert one.samples.shape == (300, 6)
    assert np.all(one.ci_low <= one.ci_high)


def test_bootstrap_is_order_invariant() -> None:
    b = simulate_battles(TRUTH, 3000, seed=2)
    perm = np.random.default_rng(0).permutation(len(b))
    s = Battles(b.models, b.model_a[perm], b.model_b[perm], b.winner[perm])
    x = bootstrap_bradley_terry(b, rounds=100, seed=3)
    y = bootstrap_bradley_terry(s, rounds=100, seed=3)
    assert np.array_equal(x.samples, y.samples)


def test_rounds_are_exact_mle_of_resamples() -> None:
    """The batched chord-Newton solution equals a full fit of the same resampled table."""
    b = simulate_battles(TRUTH, 2000, seed=4, tie_rate=0.3)
    boot = bootstrap_bradley_terry(b, rounds=5, seed=0)
    # replicate round 0's multinomial draw
    from ratings.bootstrap import _cells, multinomial_rows

    c = pair_counts(b)
    cells = _cells(b, c)
    child = np.random.SeedSequence(0).spawn(1)[0]
    draws = multinomial_rows(np.random.default_rng(child), cells.total, cells.pvals, 5)
    wi, wj = cells.effective_wins(draws)
    from ratings.bt import _fit_theta, _to_ratings

    theta, _, ok = _fit_theta(c.num_models, c.pair_i, c.pair_j, wi[:, 0], wj[:, 0], 0.0)
    assert ok
    ref = _to_ratings(theta, 400.0, 10.0, 1000.0, None, 1000.0)
    assert np.max(np.abs(boot.samples[0] - ref)) < 1e-3


def test_recovery_within_intervals() -> None:
    b = simulate_battles(TRUTH, 20_000, seed=9)
    fit = fit_bradley_terry(pair_counts(b))
    boot = bootstrap_bradley_terry(b, rounds=400, seed=1, point=fit)
    truth = centred(TRUTH)
    inside = (boot.ci_low <= truth) & (truth <= boot.ci_high)
    assert inside.sum() >= 5
    assert np.all(boot.ci_low <= fit.ratings) and np.all(fit.ratings <= boot.ci_high)


def test_coverage_near_nominal() -> None:
    truth = centred(TRUTH)
    hits = total = 0
    for rep in range(25):
        b = simulate_battles(TRUTH, 1500, seed=100 + rep)
        boot = bootstrap_bradley_terry(b, rounds=200, seed=rep)
        hits += int(((boot.ci_low <= truth) & (truth <= boot.ci_high)).sum())
        total += truth.shape[0]
    coverage = hits / total
    assert 0.85 <= coverage <= 0.995, coverage


def test_regularized_rounds_stay_finite() -> None:
    # "c" lost only once: some resamples drop that loss and c never loses there.
    rows = [
        ("a", "b", "model_a"),
        ("b", "a", "model_a"),
        ("a", "c", "model_b"),
        ("c", "b", "model_a"),
        ("b", "c", "model_a"),
        ("a", "c", "tie"),
    ] * 2
    rows = rows[:-1]
    b = load_battles(rows)
    boot = bootstrap_bradley_terry(b, rounds=200, seed=0)
    assert np.all(np.isfinite(boot.samples))
    assert 0 < boot.regularized_rounds < 200


def test_anchor_pins_every_round() -> None:
    b = simulate_battles(TRUTH, 2000, seed=5)
    boot = bootstrap_bradley_terry(b, rounds=50, seed=0, anchor=(b.models[2], 1500.0))
    assert np.allclose(boot.samples[:, 2], 1500.0)
    assert boot.ci_low[2] == pytest.approx(1500.0) and boot.ci_high[2] == pytest.approx(1500.0)


def test_weighted_bootstrap() -> None:
    b0 = simulate_battles(TRUTH, 3000, seed=6, tie_rate=0.1)
    w = np.random.default_rng(0).choice([1.0, 2.0, 4.0], size=len(b0))
    b = Battles(b0.models, b0.model_a, b0.model_b, b0.winner, w / w.mean())
    fit = fit_bradley_terry(pair_counts(b))
    boot = bootstrap_bradley_terry(b, rounds=100, seed=0, point=fit)
    assert np.all(np.isfinite(boot.samples))
    assert np.all(boot.ci_low <= fit.ratings + 1e-9) and np.all(fit.ratings <= boot.ci_high + 1e-9)


def test_elo_bootstrap_deterministic() -> None:
    b = simulate_battles(TRUTH, 500, seed=7, tie_rate=0.2)
    x = bootstrap_elo(b, rounds=50, seed=1)
    y = bootstrap_elo(b, rounds=50, seed=1)
    assert np.array_equal(x.samples, y.samples)
    assert x.samples.shape == (50, 6) and np.all(x.ci_low <= x.ci_high)


def test_poissonised_multinomial_is_multinomial() -> None:
    from ratings.bootstrap import multinomial_rows

    rng = np.random.default_rng(42)
    p = np.array([0.5, 0.0, 0.2, 0.25, 0.05])
    n, rounds = 200, 20_000
    x = multinomial_rows(rng, n, p, rounds)
    assert x.dtype.kind == "i" and np.all(x >= 0)
    assert np.all(x.sum(axis=1) == n)
    assert np.all(x[:, 1] == 0)
    # moments of Multinomial(n, p): mean n p, covariance n (diag(p) - p pᵀ)
    se = np.sqrt(n * p * (1 - p) / rounds)
    assert np.all(np.abs(x.mean(axis=0) - n * p) <= 5 * se + 1e-12)
    cov = np.cov(x.T)
    ref = n * (np.diag(p) - np.outer(p, p))
    assert np.allclose(cov, ref, atol=0.06 * n * p.max())
    # the correction paths (sum above and below n) were both exercised
    y = rng.poisson(n * p, size=(rounds, 5)).sum(axis=1)
    assert (y > n).any() and (y < n).any()
