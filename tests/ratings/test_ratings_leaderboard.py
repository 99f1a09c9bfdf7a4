from __future__ import annotations

import json

import numpy as np
import pytest

from ratings import (
    NoBattlesError,
    UnknownModelError,
    UnknownWinnerError,
    compute_leaderboard,
    rank_by_intervals,
    simulate_battles,
)
from ratings.outcomes import WINNER_STRINGS, Winner


def rows_from_sim(n: int, seed: int) -> list[tuple[str, str, str]]:
    b = simulate_battles(
        [0, 150, -100, 60, 300],
        n,
        seed=seed,
        tie_rate=0.15,
        models=["alpha", "bravo", "charlie", "delta", "echo"],
    )
    return [
        (b.models[a], b.models[c], WINNER_STRINGS[Winner(w)])
        for a, c, w in zip(b.model_a.tolist(), b.model_b.tolist(), b.winner.tolist(), strict=True)
    ]


def test_leaderboard_rows_and_matrices() -> None:
    rows = rows_from_sim(3000, 1)
    lb = compute_leaderboard(rows, bootstrap_rounds=200, seed=3)
    assert [r.model for r in lb.rows][:2] == ["echo", "bravo"]
    assert lb.rows[0].rank == 1
    assert sum(r.votes for r in lb.rows) == 2 * len(rows)
    for r in lb.rows:
        assert r.wins + r.ties + r.losses == r.votes
        assert r.ci_low <= r.rating <= r.ci_high
        assert 0 <= r.win_rate <= 1
        assert np.isfinite(r.elo)
    assert lb.num_battles == 3000 and lb.method == "bt" and not lb.regularized
    assert lb.battle_counts.sum() == 2 * 3000
    assert np.allclose(lb.predicted_win + lb.predicted_win.T, 1.0)
    off = ~np.eye(5, dtype=bool)
    assert np.allclose((lb.win_fraction + lb.win_fraction.T)[off], 1.0)
    assert np.mean([r.rating for r in lb.rows]) == pytest.approx(1000)
    json.dumps(lb.to_dict())  # JSON-ready


def test_leaderboard_deterministic() -> None:
    rows = rows_from_sim(1000, 2)
    a = compute_leaderboard(rows, bootstrap_rounds=100, seed=5)
    b = compute_leaderboard(rows, bootstrap_rounds=100, seed=5)
    assert a.to_dict()["rows"] == b.to_dict()["rows"]


def test_rank_rule() -> None:
    low = np.array([10.0, 8.0, 0.0, -5.0])
    high = np.array([12.0, 11.0, 9.0, 1.0])
    assert rank_by_intervals(low, high).tolist() == [1, 1, 2, 3]


def test_elo_method_and_anchor() -> None:
    rows = rows_from_sim(800, 3)
    lb = compute_leaderboard(rows, method="elo", bootstrap_rounds=30, anchor={"alpha": 1200})
    assert lb.row("alpha").rating == pytest.approx(1200)
    assert lb.method == "elo"
    with pytest.raises(UnknownModelError):
        compute_leaderboard(rows, bootstrap_rounds=0, anchor=("zulu", 1.0))


def test_no_bootstrap() -> None:
    lb = compute_leaderboard(rows_from_sim(500, 4), bootstrap_rounds=0, online_elo=False)
    for r in lb.rows:
        assert r.ci_low == r.rating == r.ci_high
        assert np.isnan(r.elo)
    assert [r.rank for r in lb.rows] == [1, 2, 3, 4, 5]


def test_degenerate_inputs() -> None:
    with pytest.raises(NoBattlesError):
        compute_leaderboard([])
    with pytest.raises(NoBattlesError):
        compute_leaderboard([], models=["solo"])
    with pytest.raises(UnknownWinnerError, match="row 1"):
        compute_leaderboard([("a", "b", "tie"), ("a", "b", "A")])
    lb = compute_leaderboard([("a", "b", "model_a")] * 3, bootstrap_rounds=50)
    assert lb.regularized and lb.prior_strength > 0
    assert all(np.isfinite([r.rating, r.ci_low, r.ci_high]).all() for r in lb.rows)
    assert lb.rows[0].model == "a"


def test_exclusions_and_weights() -> None:
    rows = (
        [("a", "b", "tie")] * 5
        + [("a", "b", "model_a"), ("b", "a", "model_a")] * 2
        + [("a", "b", "tie (bothbad)")] * 3
    )
    assert compute_leaderboard(rows, bootstrap_rounds=0, exclude_ties=True).num_battles == 4
    assert compute_leaderboard(rows, bootstrap_rounds=0, both_bad="exclude").num_battles == 9
    w = [1.0] * len(rows)
    w[5] = 10.0  # a's first win counts ten times
    lb = compute_leaderboard(rows, bootstrap_rounds=20, weights=w)
    assert lb.weighted and lb.row("a").rating > lb.row("b").rating
    assert lb.row("a").votes == len(rows)
