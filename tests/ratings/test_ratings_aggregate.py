"""Leaderboards from vote cells (ratings.aggregate), the multi-board online Elo replay
(ratings.replay) and per-voter counters (ratings.voters) agree with the per-battle functions."""

from __future__ import annotations

import numpy as np
import pytest

from ratings import compute_leaderboard, load_battles
from ratings.aggregate import leaderboard_from_cells, style_from_cells
from ratings.elo import elo_update
from ratings.integrity import improbable_choices_p_value
from ratings.replay import elo_replay
from ratings.style import fit_bradley_terry_with_covariates
from ratings.voters import improbable_choices_p_value_from_sums, voter_counters

WINNERS = ["model_a", "model_b", "tie", "tie (bothbad)"]


def battles(n: int, m: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, m, n)
    b = (a + 1 + rng.integers(0, m - 1, n)) % m
    strength = rng.normal(0, 1, m)
    u = rng.random(n)
    p = 1 / (1 + np.exp(strength[b] - strength[a]))
    outcome = np.where(u < 0.05, 3, np.where(u < 0.2, 2, np.where(rng.random(n) < p, 0, 1)))
    x = np.c_[rng.choice([0.0, 2.0, -2.0, 5.0], n), rng.choice([0.0, np.log(4)], n)]
    return a, b, outcome, x


def cells(
    a: np.ndarray, b: np.ndarray, outcome: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    table, count = np.unique(np.c_[a, b, outcome, x], axis=0, return_counts=True)
    return table, count


@pytest.mark.parametrize("both_bad", ["tie", "exclude"])
def test_cells_give_the_per_battle_leaderboard(both_bad: str) -> None:
    m = 6
    names = [f"m{k}" for k in range(m)]
    a, b, outcome, x = battles(3000, m, seed=1)
    old = compute_leaderboard(
        [(names[i], names[j], WINNERS[k]) for i, j, k in zip(a, b, outcome, strict=True)],
        bootstrap_rounds=100,
        seed=0,
        both_bad=both_bad,
        models=names,
    )  # type: ignore[arg-type]
    table, count = cells(a, b, outcome, x)
    new = leaderboard_from_cells(
        names,
        table[:, 0],
        table[:, 1],
        table[:, 2],
        count,
        bootstrap_rounds=100,
        seed=0,
        both_bad=both_bad,
    )  # type: ignore[arg-type]
    assert [r.model for r in new.rows] == [r.model for r in old.rows]
    for o, n in zip(old.rows, new.rows, strict=True):
        assert (o.rank, o.votes, o.wins, o.ties, o.losses) == (
            n.rank,
            n.votes,
            n.wins,
            n.ties,
            n.losses,
        )
        for name in ("rating", "ci_low", "ci_high", "win_rate", "avg_win_prob"):
            assert getattr(n, name) == pytest.approx(getattr(o, name), abs=1e-6)
    np.testing.assert_array_equal(new.battle_counts, old.battle_counts)
    np.testing.assert_allclose(new.win_fraction, old.win_fraction, equal_nan=True)


@pytest.mark.parametrize("both_bad", ["tie", "exclude"])
def test_style_from_cells_is_the_per_battle_style_fit(both_bad: str) -> None:
    m = 5
    names = [f"m{k}" for k in range(m)]
    a, b, outcome, x = battles(2500, m, seed=2)
    keep = outcome != 3 if both_bad == "exclude" else np.ones(len(a), dtype=bool)
    loaded = load_battles(
        [
            (names[i], names[j], WINNERS[k])
            for i, j, k in zip(a[keep], b[keep], outcome[keep], strict=True)
        ],
        models=names,
    )
    old = fit_bradley_terry_with_covariates(
        loaded, x[keep], names=["lat", "pix"], bootstrap_rounds=80, seed=3
    )
    table, count = cells(a, b, outcome, x)
    same_draws = style_from_cells(
        names,
        table[:, 0],
        table[:, 1],
        table[:, 2],
        count,
        table[:, 3:],
        names=["lat", "pix"],
        both_bad=both_bad,  # type: ignore[arg-type]
        bootstrap_rounds=80,
        seed=3,
        sequential_draws=True,
    )
    assert same_draws.rows == old.rows
    for name in ("ratings", "coefficients", "ci_low", "ci_high", "coef_ci_low", "coef_ci_high"):
        np.testing.assert_allclose(
            getattr(same_draws, name), getattr(old, name), atol=1e-4, err_msg=name
        )
    fast = style_from_cells(
        names,
        table[:, 0],
        table[:, 1],
        table[:, 2],
        count,
        table[:, 3:],
        names=["lat", "pix"],
        both_bad=both_bad,  # type: ignore[arg-type]
        bootstrap_rounds=400,
        seed=3,
    )
    np.testing.assert_allclose(fast.ratings, old.ratings, atol=1e-4)
    many = fit_bradley_terry_with_covariates(
        loaded, x[keep], names=["lat", "pix"], bootstrap_rounds=400, seed=3
    )
    width = many.ci_high - many.ci_low  # same distribution, other draws: close intervals
    assert np.all(np.abs(fast.ci_low - many.ci_low) < 0.4 * width)
    assert np.all(np.abs(fast.ci_high - many.ci_high) < 0.4 * width)


def test_style_drops_covariates_that_do_not_vary() -> None:
    names = ["a", "b", "c"]
    a, b, outcome, x = battles(600, 3, seed=4)
    x[:, 1] = 0.5
    table, count = cells(a, b, outcome, x)
    fit = style_from_cells(
        names, table[:, 0], table[:, 1], table[:, 2], count, table[:, 3:], names=["lat", "constant"]
    )
    assert fit.covariate_names == ("lat",) and fit.coefficients.shape == (1,)


def test_elo_replay_matches_step_by_step_updates_on_every_board() -> None:
    rng = np.random.default_rng(5)
    m, n, groups = 5, 1500, 3
    a, b, outcome, _ = battles(n, m, seed=5)
    group = rng.integers(-1, groups, n)
    for both_bad_counts in (True, False):
        table = elo_replay(
            a,
            b,
            outcome,
            num_models=m,
            group=group,
            num_groups=groups,
            both_bad_counts=both_bad_counts,
        )
        expected = np.full((groups + 1, m), 1000.0)
        votes = np.zeros((groups + 1, m), dtype=np.int64)
        for i, j, o, g in zip(a, b, outcome, group, strict=True):
            if o == 3 and not both_bad_counts:
                continue
            for board in [0] if g < 0 else [0, g + 1]:
                expected[board, i], expected[board, j] = elo_update(
                    expected[board, i], expected[board, j], (1.0, 0.0, 0.5, 0.5)[o]
                )
                votes[board, i] += 1
                votes[board, j] += 1
        np.testing.assert_array_equal(table.ratings, expected)
        np.testing.assert_array_equal(table.votes, votes)
        np.testing.assert_array_equal(table.wins + table.losses + table.ties, table.votes)


def test_voter_counters_give_the_per_vote_p_values() -> None:
    rng = np.random.default_rng(6)
    voter = rng.integers(0, 4, 400) * 1_000_003
    p_left = rng.uniform(0.05, 0.95, 400)
    chose_left = rng.random(400) < 0.5
    codes, n, left, observed, mean, variance = voter_counters(voter, p_left, chose_left)
    for k, code in enumerate(codes):
        mine = voter == code
        chosen = np.where(chose_left[mine], p_left[mine], 1 - p_left[mine])
        assert n[k] == mine.sum() and left[k] == chose_left[mine].sum()
        assert improbable_choices_p_value_from_sums(observed[k], mean[k], variance[k]) == (
            pytest.approx(improbable_choices_p_value(chosen), rel=1e-9)
        )


def test_side_bias_p_values_equal_the_exact_binomial_test_per_voter() -> None:
    from ratings.integrity import side_bias_p_value
    from ratings.voters import side_bias_p_values

    rng = np.random.default_rng(3)
    decisive = np.concatenate([[0, 1, 2, 20, 21], rng.integers(1, 400, 300)])
    left = np.concatenate([[0, 1, 1, 20, 10], rng.integers(0, 401, 300) % (decisive[5:] + 1)])
    expected = [side_bias_p_value(int(k), int(n)) for k, n in zip(left, decisive, strict=True)]
    np.testing.assert_allclose(side_bias_p_values(left, decisive), expected, rtol=1e-9, atol=1e-300)
