"""Provisional models (too few votes to rank) in the maths and the command line, and style
control on cells that cannot silently go wrong."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from ratings import compute_leaderboard, load_battles
from ratings.aggregate import style_from_cells
from ratings.provisional import provisional_mask, split_provisional
from tests.ratings.test_ratings_cli import run, write_jsonl


def battles_rows(seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    regulars = ["alpha", "bravo", "charlie", "delta"]
    rows = []
    for _ in range(400):
        a, b = rng.sample(regulars, 2)
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "winner": rng.choice(["model_a", "model_a", "model_b", "tie"]),
            }
        )
    for k in range(7):  # a newcomer with 7 votes
        rows.append(
            {
                "model_a": "newbie",
                "model_b": regulars[k % 4],
                "winner": "model_a" if k % 2 else "tie (bothbad)",
            }
        )
    return rows


def test_a_model_under_the_threshold_leaves_the_fit_with_its_votes() -> None:
    rows = battles_rows()
    battles = load_battles([(r["model_a"], r["model_b"], r["winner"]) for r in rows])
    kept, provisional = split_provisional(battles, min_votes=30)
    assert kept.models == ("alpha", "bravo", "charlie", "delta") and len(kept) == 400
    assert [(p.model, p.votes, p.wins, p.ties, p.losses) for p in provisional] == [
        ("newbie", 7, 3, 4, 0)
    ]
    assert provisional[0].win_rate == pytest.approx((3 + 2) / 7)
    alone = compute_leaderboard(
        [(r["model_a"], r["model_b"], r["winner"]) for r in rows[:400]], bootstrap_rounds=50
    )
    assert (
        compute_leaderboard(kept, bootstrap_rounds=50).to_dict()["rows"] == alone.to_dict()["rows"]
    )


def test_a_model_without_votes_is_always_provisional() -> None:
    mask = provisional_mask(3, [0], [1], min_votes=0)
    assert mask.tolist() == [False, False, True]


def test_the_command_line_lists_provisional_models_without_a_rank(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", battles_rows())
    done = run(path, "--min-votes", "30", "--bootstrap", "50", "--format", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [r["model"] for r in out["provisional"]] == ["newbie"]
    assert "newbie" not in [r["model"] for r in out["rows"]]
    table = run(path, "--min-votes", "30", "--bootstrap", "50")
    assert "provisional  newbie" in table.stdout and "1 provisional" in table.stdout
    # the tie rule first: with 'both bad' excluded the newcomer has 3 rated votes
    excluded = run(path, "--min-votes", "30", "--both-bad", "exclude", "--format", "json")
    assert json.loads(excluded.stdout)["provisional"][0]["votes"] == 3
    nobody = run(path, "--min-votes", "100000")
    assert nobody.returncode == 2 and "every model is provisional" in nobody.stderr


def test_style_on_cells_drops_a_covariate_constant_within_each_model() -> None:
    rng = np.random.default_rng(1)
    m, n = 5, 3000
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    feature = np.array([0.0, 1.0, 2.0, 0.5, 1.5])  # one resolution per model
    latency = rng.normal(0, 2, n)
    strength = np.linspace(0, 1.5, m)
    p = 1 / (1 + np.exp(-(strength[a] - strength[b] + 0.3 * latency)))
    outcome = (rng.random(n) > p).astype(np.int64)
    x = np.column_stack([latency, feature[a] - feature[b]])
    names = [f"m{k}" for k in range(m)]
    only_model = style_from_cells(
        names, a, b, outcome, np.ones(n), x[:, 1:], names=["pixels"], bootstrap_rounds=20
    )
    assert not only_model.identified and only_model.dropped == ("pixels",)
    assert any(n.reason == "not_identified" for n in only_model.notices)
    assert np.all(np.isnan(only_model.ci_low))  # nothing to show: no bootstrap was spent
    both = style_from_cells(
        names, a, b, outcome, np.ones(n), x, names=["latency", "pixels"], bootstrap_rounds=50
    )
    assert both.identified and both.covariate_names == ("latency",)
    assert both.dropped == ("pixels",) and both.notices[0].reason == "within_model"
    assert both.coef_ci_low[0] < both.coefficients[0] < both.coef_ci_high[0]
    assert np.all(both.ci_high - both.ci_low < 100)
