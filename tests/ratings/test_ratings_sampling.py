"""Adaptive pair sampling: a proper distribution with floors and caps, driven by information."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from ratings import bootstrap_bradley_terry, fit_bradley_terry, pair_counts, simulate_battles
from ratings.sampling import (
    adaptive_pair_probabilities,
    fisher_covariance,
    uniform_pair_probabilities,
)

TRUTH = np.array([300.0, 275.0, 250.0, 225.0, 100.0, 50.0, 0.0, -50.0, -100.0, -200.0])


def fitted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    b = simulate_battles(TRUTH, n, seed=seed, tie_rate=0.3)
    c = pair_counts(b)
    fit = fit_bradley_terry(c)
    games = np.zeros((10, 10))
    games[c.pair_i, c.pair_j] = c.votes
    games += games.T
    return fit.ratings, fisher_covariance(fit.ratings, games)


def test_probabilities_are_a_distribution_with_floor_and_cap() -> None:
    ratings, cov = fitted(5000, 1)
    s = adaptive_pair_probabilities(ratings, cov, top=3, uniform_mix=0.2, max_model_share=0.3)
    assert s.probability.shape == (45,) and s.probability.sum() == pytest.approx(1.0)
    assert np.all(s.probability >= 0.2 / 45 * (1 - 1e-12))  # nobody starved
    assert s.model_share.sum() == pytest.approx(2.0)
    assert s.model_share.max() <= 0.3 + 1e-6  # nobody flooded
    # the information goes to the unsettled top (models 0-3 are 25 points apart)
    top_share = s.model_share[:4].sum()
    uniform = uniform_pair_probabilities(10).model_share[:4].sum()
    assert top_share > 1.3 * uniform
    assert s.score[(s.pair_i >= 6) & (s.pair_j >= 6)].max() < s.score.max() * 1e-2


def test_a_newcomer_gets_more_than_its_uniform_share() -> None:
    ratings, cov = fitted(5000, 2)
    m = 11
    r = np.append(ratings, ratings.mean())
    games = np.zeros((m, m))
    cov_new = fisher_covariance(r, games)  # no votes at all: all uncertain
    s0 = adaptive_pair_probabilities(r, cov_new, top=3)
    assert s0.probability.sum() == pytest.approx(1.0)
    b = simulate_battles(TRUTH, 5000, seed=2, tie_rate=0.3)
    c = pair_counts(b)
    games[c.pair_i, c.pair_j] = c.votes
    games[c.pair_j, c.pair_i] = c.votes
    s = adaptive_pair_probabilities(r, fisher_covariance(r, games), top=3)
    assert s.model_share[10] > 1.2 * (2 / m)
    assert s.model_share[10] <= 0.25 + 1e-9  # the cap


def test_weights_exclude_models_and_validate() -> None:
    ratings, cov = fitted(3000, 3)
    w = np.ones(10)
    w[9] = 0.0
    s = adaptive_pair_probabilities(ratings, cov, weights=w)
    assert 9 not in s.pair_i and 9 not in s.pair_j and s.probability.shape == (36,)
    a, b, p = s.draw(np.random.default_rng(0), 1000)
    assert np.all(a != b) and np.all(a != 9) and np.all(b != 9) and np.all(p > 0)
    assert 0.4 < np.mean(a < b) < 0.6  # sides drawn at random
    with pytest.raises(ValueError, match="uniform_mix"):
        adaptive_pair_probabilities(ratings, cov, uniform_mix=0.0)
    with pytest.raises(ValueError, match="two models"):
        uniform_pair_probabilities(3, weights=[1, 0, 0])


def test_fisher_covariance_matches_the_bootstrap() -> None:
    b = simulate_battles(TRUTH, 20_000, seed=4, tie_rate=0.3)
    c = pair_counts(b)
    fit = fit_bradley_terry(c)
    games, ties = np.zeros((10, 10)), np.zeros((10, 10))
    games[c.pair_i, c.pair_j] = c.votes
    ties[c.pair_i, c.pair_j] = c.ties
    games, ties = games + games.T, ties + ties.T
    cov = fisher_covariance(fit.ratings, games, ties=ties)
    plain = fisher_covariance(fit.ratings, games)
    boot = bootstrap_bradley_terry(b, rounds=400, seed=0, point=fit)
    for i, j in [(0, 1), (3, 4), (0, 9)]:
        sd_fisher = np.sqrt(cov[i, i] + cov[j, j] - 2 * cov[i, j])
        sd_boot = np.std(boot.samples[:, i] - boot.samples[:, j])
        assert sd_fisher == pytest.approx(sd_boot, rel=0.1)
        # ignoring that ties vary less overstates the spread by about 1/sqrt(1 - tie share)
        sd_plain = np.sqrt(plain[i, i] + plain[j, j] - 2 * plain[i, j])
        assert sd_plain > 1.1 * sd_fisher


def _bench() -> object:
    path = Path(__file__).resolve().parents[2] / "bench" / "sampling_sim.py"
    spec = importlib.util.spec_from_file_location("sampling_sim", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sampling_sim"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_adaptive_sampling_settles_the_top_with_fewer_votes() -> None:
    sim = _bench()
    args = argparse.Namespace(
        top=3,
        tau=0.3,
        bias=0.1,
        batch=250,
        max_votes=100_000,
        uniform_mix=0.15,
        max_model_share=0.25,
        require_cover="none",
    )
    truth = sim.true_ratings(12, top=3, gap=40.0, span=400.0)  # type: ignore[attr-defined]
    votes = {"uniform": 0, "adaptive": 0}
    for rep in range(3):
        for policy in votes:
            state = sim.State(12)  # type: ignore[attr-defined]
            rng = np.random.default_rng([rep, 7])
            votes[policy] += sim.run(state, truth, policy, rng, args)  # type: ignore[attr-defined]
    assert votes["adaptive"] < 0.8 * votes["uniform"], votes
