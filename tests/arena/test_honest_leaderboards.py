"""Honest leaderboards (issue 12): no rank without evidence, the site equals the published
recipe, style control only when identified, explicit inverse-probability weighting, the
adaptive sampler fed from the snapshot, and the board's changelog."""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from arena.battles.models import (
    Arena,
    Contender,
)
from arena.battles.sampling import arena_pair_probabilities, pair_probabilities
from arena.leaderboards import services
from arena.leaderboards.export import votes_export_jsonl
from arena.leaderboards.models import LeaderboardChange
from arena.leaderboards.selectors import leaderboard_latest
from arena.votes.models import Choice, InvalidReason, Vote
from ratings import battles_from_arrays, compute_leaderboard
from ratings.cli import main as ratings_main
from tests.arena import votes_factory
from tests.arena.votes_factory import add_pair_votes


def make_arena(*, contenders: int = 6, **fields: Any) -> tuple[Arena, list[Contender]]:
    return votes_factory.make_arena(slug="honest", contenders=contenders, **fields)


def random_pairs(models: list[Contender], n: int, seed: int) -> list[tuple[Contender, Contender]]:
    rng = random.Random(seed)
    return [tuple(rng.sample(models, 2)) for _ in range(n)]  # type: ignore[misc]


def export_and_run_recipe(arena: Arena, tmp_path: Path) -> dict[str, Any]:
    """The site's own export, then the command the board states, as a researcher would."""
    path = tmp_path / "votes.jsonl"
    path.write_text("".join(votes_export_jsonl(arena=arena)))
    recipe = leaderboard_latest(arena=arena)["params"]["recipe"]
    argv = recipe.split()
    assert argv[:4] == ["python", "-m", "ratings", "votes.jsonl"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert ratings_main([str(path), *argv[4:], "--format", "json"]) == 0
    return json.loads(out.getvalue())


@pytest.fixture
def rounds(settings: Any) -> int:
    settings.ARENA_BOOTSTRAP_ROUNDS = 300
    settings.ARENA_STYLE_BOOTSTRAP_ROUNDS = 50
    return 300


# --- Ranked only with evidence ----------------------------------------------------------------


def test_a_zero_vote_and_a_few_vote_model_are_provisional_and_move_no_one(
    db: None, rounds: int, voter: Any
) -> None:
    arena, models = make_arena(contenders=7)
    settled, few, silent = models[:5], models[5], models[6]
    strength = {m.pk: 0.4 * k for k, m in enumerate(settled)}
    add_pair_votes(arena, random_pairs(settled, 1500, seed=1), seed=1, strength=strength)
    services.leaderboard_compute(arena=arena)
    before = {r["model"]: r for r in leaderboard_latest(arena=arena)["rows"]}
    add_pair_votes(arena, [(few, settled[k % 5]) for k in range(12)], seed=2, start_index=5000)
    services.leaderboard_compute(arena=arena)
    board = voter.get(f"/api/arenas/{arena.slug}/leaderboard").json()
    rows = {r["model"]: r for r in board["rows"]}
    for model, votes in ((few.name, 12), (silent.name, 0)):
        row = rows[model]
        assert row["provisional"] is True and row["rank"] is None
        assert row["rating"] is None and row["ci_low"] is None and row["ci_high"] is None
        assert row["votes"] == votes
    assert rows[few.name]["win_rate"] is not None and rows[silent.name]["win_rate"] is None
    ranked = [r for r in board["rows"] if not r["provisional"]]
    assert sorted(r["model"] for r in ranked) == sorted(m.name for m in settled)
    assert [r["rank"] for r in ranked] == sorted(r["rank"] for r in ranked)
    assert board["rows"][-2:] == [rows[few.name], rows[silent.name]]  # after the ranked ones
    # the provisional votes left the fit: the others' ratings and intervals did not move
    for model in (m.name for m in settled):
        for key in ("rating", "ci_low", "ci_high", "rank"):
            assert rows[model][key] == before[model][key], (model, key)
    page = voter.get(f"/arena/{arena.slug}/leaderboard/")
    assert b'id="provisional"' in page.content and few.name.encode() in page.content


def test_models_are_ranked_once_they_reach_the_arenas_own_minimum(
    db: None, rounds: int, settings: Any
) -> None:
    settings.ARENA_MIN_VOTES_TO_RANK = 1000
    arena, models = make_arena(contenders=3, min_votes_to_rank=20)
    add_pair_votes(arena, random_pairs(models, 60, seed=3), seed=3)
    services.leaderboard_compute(arena=arena)
    board = leaderboard_latest(arena=arena)
    assert all(not r["provisional"] and r["rank"] for r in board["rows"])
    assert board["params"]["min_votes_to_rank"] == 20


# --- The site equals the recipe ---------------------------------------------------------------


@pytest.mark.parametrize("both_bad_counts", [True, False])
def test_the_board_equals_the_stated_command_on_the_public_export(
    db: None, settings: Any, tmp_path: Path, voter: Any, both_bad_counts: bool
) -> None:
    settings.ARENA_BOOTSTRAP_ROUNDS = 1000
    settings.ARENA_STYLE_CONTROL = False
    arena, models = make_arena(contenders=9, both_bad_counts_as_tie=both_bad_counts)
    strength = {m.pk: 0.15 * k for k, m in enumerate(models)}
    add_pair_votes(arena, random_pairs(models[:7], 3000, seed=4), seed=4, strength=strength)
    add_pair_votes(arena, [(models[7], models[k]) for k in range(7)] * 3, seed=5, start_index=9000)
    services.leaderboard_compute(arena=arena)
    board = voter.get(f"/api/arenas/{arena.slug}/leaderboard").json()
    cli = export_and_run_recipe(arena, tmp_path)
    if not both_bad_counts:
        assert board["params"]["recipe"].endswith("--both-bad exclude")
    site = [r for r in board["rows"] if not r["provisional"]]
    assert [r["model"] for r in site] == [r["model"] for r in cli["rows"]]
    for mine, theirs in zip(site, cli["rows"], strict=True):
        assert mine["rank"] == theirs["rank"]
        for key in ("rating", "ci_low", "ci_high"):
            assert mine[key] == round(mine[key], 2)  # two decimals in the API
            assert abs(mine[key] - theirs[key]) <= 0.01, (mine["model"], key)
        assert mine["votes"] == theirs["votes"]
    provisional = [(r["model"], r["votes"]) for r in board["rows"] if r["provisional"]]
    assert [m for m, _ in provisional] == [models[7].name, models[8].name]
    assert provisional[1][1] == 0 and 15 < provisional[0][1] <= 21  # 'both bad' may be out
    assert [(r["model"], r["votes"]) for r in cli["provisional"]] == provisional[:1]
    page = voter.get(f"/arena/{arena.slug}/leaderboard/")
    assert board["params"]["recipe"].encode() in page.content


# --- Style control ----------------------------------------------------------------------------


def constant_per_model(contender: Contender, i: int, rng: random.Random) -> tuple[int, int, float]:
    """Each model always returns one size after one delay (one provider, one resolution)."""
    sizes = ((512, 512), (1024, 1024), (768, 512), (512, 768))
    width, height = sizes[contender.pk % len(sizes)]
    return width, height, 1.0 + contender.pk % 5


def size_per_model(contender: Contender, i: int, rng: random.Random) -> tuple[int, int, float]:
    width, height, _ = constant_per_model(contender, i, rng)
    return width, height, rng.uniform(0.5, 8.0)


def test_style_control_is_not_shown_when_every_covariate_is_constant_per_model(
    db: None, rounds: int, voter: Any
) -> None:
    arena, models = make_arena(contenders=5, style_control=True)
    add_pair_votes(
        arena,
        random_pairs(models, 1500, seed=6),
        seed=6,
        outputs=constant_per_model,
        strength={m.pk: 0.3 * k for k, m in enumerate(models)},
    )
    services.leaderboard_compute(arena=arena)
    board = voter.get(f"/api/arenas/{arena.slug}/leaderboard").json()
    style = board["matrices"]["style"]
    assert style["identified"] is False and style["covariates"] == []
    assert set(style["dropped"]) == {"latency_diff_s", "log_pixel_ratio", "aspect_error_diff"}
    assert any("constant within each model" in n for n in style["notices"])
    assert all("style_rating" not in r for r in board["rows"])
    page = voter.get(f"/arena/{arena.slug}/leaderboard/").content.decode()
    assert ">Style-controlled<" not in page
    assert "Style control is not identified" in page and "constant within each model" in page
    assert "Style control asks who would win" in page  # what is controlled, on the page
    assert "-999" not in page and "nan" not in page.lower().replace("nano", "")


def test_a_covariate_constant_per_model_is_dropped_with_a_notice_and_the_rest_kept(
    db: None, rounds: int, voter: Any
) -> None:
    arena, models = make_arena(contenders=5, style_control=True)
    add_pair_votes(
        arena,
        random_pairs(models, 1500, seed=7),
        seed=7,
        outputs=size_per_model,
        strength={m.pk: 0.3 * k for k, m in enumerate(models)},
    )
    services.leaderboard_compute(arena=arena)
    board = voter.get(f"/api/arenas/{arena.slug}/leaderboard").json()
    style = board["matrices"]["style"]
    assert style["identified"] is True and style["covariates"] == ["latency_diff_s"]
    assert "log_pixel_ratio" in style["dropped"]
    assert any("'log_pixel_ratio' was dropped" in n for n in style["notices"])
    low, coef, high = style["coef_ci_low"][0], style["coefficients"][0], style["coef_ci_high"][0]
    assert low <= coef <= high and high - low < 60  # an interval, and a sane one
    for row in board["rows"]:
        assert row["style_ci_low"] <= row["style_rating"] <= row["style_ci_high"]
        assert row["style_ci_high"] - row["style_ci_low"] < 150
    page = voter.get(f"/arena/{arena.slug}/leaderboard/").content.decode()
    assert ">Style-controlled<" in page and "&#x27;log_pixel_ratio&#x27; was dropped" in page
    assert style["condition_number"] >= 1 and "condition number of the kept differences" in page


def test_style_control_is_opt_in_per_arena(db: None, rounds: int, settings: Any) -> None:
    settings.ARENA_STYLE_CONTROL = True
    arena, models = make_arena(contenders=3, style_control=False)
    add_pair_votes(arena, random_pairs(models, 120, seed=8), seed=8)
    services.leaderboard_compute(arena=arena)
    board = leaderboard_latest(arena=arena)
    assert "style" not in board["matrices"] and board["params"]["style_control"] is False


# --- Inverse-probability weighting ------------------------------------------------------------


def test_votes_without_a_draw_probability_leave_the_weighted_board_with_a_count(
    db: None, rounds: int, settings: Any, voter: Any
) -> None:
    settings.ARENA_IPW = True
    arena, models = make_arena(contenders=4)
    probability = [0.1, 0.2, 0.4]
    votes = add_pair_votes(
        arena,
        random_pairs(models, 900, seed=9),
        seed=9,
        probability=lambda i: None if i % 3 == 0 else probability[i % 3],
        strength={m.pk: 0.3 * k for k, m in enumerate(models)},
    )
    services.leaderboard_compute(arena=arena)
    board = voter.get(f"/api/arenas/{arena.slug}/leaderboard").json()
    ipw = board["matrices"]["ipw"]
    assert ipw["votes_without_probability"] == 300 and ipw["votes_weighted"] == 600
    assert "300 of 900 counted votes have no stored draw probability" in ipw["notice"]
    # the weighted ratings are those of the votes that have a probability, weighted
    names = sorted(m.name for m in models)
    known = [v for v in votes if v.battle.sampling_probability is not None]
    code = {Choice.LEFT: 0, Choice.RIGHT: 1, Choice.TIE: 2, Choice.BOTH_BAD: 3}
    expected = compute_leaderboard(
        battles_from_arrays(
            names,
            [names.index(v.battle.left.name) for v in known],
            [names.index(v.battle.right.name) for v in known],
            [code[v.choice] for v in known],
            weights=[1 / v.battle.sampling_probability for v in known],
        ),
        bootstrap_rounds=rounds,
        seed=0,
        online_elo=False,
    )
    rows = {r["model"]: r for r in board["rows"]}
    for row in expected.rows:
        assert rows[row.model]["ipw_rating"] == pytest.approx(row.rating, abs=0.006)
        assert rows[row.model]["ipw_ci_low"] == pytest.approx(row.ci_low, abs=0.006)
    # the main board still counts every vote, unweighted (the recipe's board)
    assert board["votes"] == 900 and sum(r["votes"] for r in board["rows"]) == 1800
    page = voter.get(f"/arena/{arena.slug}/leaderboard/").content.decode()
    assert "300 of 900 counted votes have no stored draw probability" in page


# --- Adaptive sampling --------------------------------------------------------------------------


def settled_state(models: int, games: int) -> dict[str, Any]:
    names = [f"m{k:02d}" for k in range(models)]
    matrix = np.full((models, models), games)
    np.fill_diagonal(matrix, 0)
    return {
        "models": names,
        "ratings": [1300 - 25 * k for k in range(models)],
        "games": matrix.tolist(),
        "ties": (matrix // 5).tolist(),
    }


def test_the_sampler_favours_a_newcomer_within_floors_and_caps(settings: Any) -> None:
    state = settled_state(20, 200)
    names = [*state["models"], "newcomer"]
    sampling = pair_probabilities(names=names, weights=[1.0] * 21, state=state)
    share = sampling.model_share
    assert share[-1] == share.max() > 2 / 21  # the newcomer, unknown, is drawn most
    assert share.max() <= settings.ARENA_SAMPLING_MAX_MODEL_SHARE + 1e-9  # no one flooded
    pairs = 21 * 20 / 2
    assert sampling.probability.min() >= settings.ARENA_SAMPLING_UNIFORM_MIX / pairs - 1e-12
    assert sampling.probability.sum() == pytest.approx(1.0)
    # the top of a settled board gets more than the clearly separated bottom
    assert share[0] > share[19]


def test_a_model_with_weight_zero_is_never_drawn() -> None:
    state = settled_state(5, 50)
    sampling = pair_probabilities(names=state["models"], weights=[1, 1, 0, 1, 1], state=state)
    assert sampling.model_share[2] == 0.0 and 2 not in sampling.pair_i.tolist()


def test_the_sampler_reads_the_snapshot_once_per_refresh(
    db: None, rounds: int, django_assert_num_queries: Any
) -> None:
    arena, models = make_arena(contenders=5)
    add_pair_votes(arena, random_pairs(models, 400, seed=10), seed=10)
    services.leaderboard_compute(arena=arena)
    names, weights = [m.name for m in models], [1.0] * 5
    first = arena_pair_probabilities(arena_id=arena.pk, names=names, weights=weights)
    with django_assert_num_queries(1):  # the newest snapshot's id; no fit, no JSON read
        again = arena_pair_probabilities(arena_id=arena.pk, names=names, weights=weights)
    assert again is first
    state = leaderboard_latest(arena=arena)["matrices"]["sampler"]
    assert sorted(state["models"]) == sorted(names) and sum(map(sum, state["games"])) == 800
    add_pair_votes(arena, random_pairs(models, 50, seed=11), seed=11, start_index=1000)
    services.leaderboard_compute(arena=arena)
    assert arena_pair_probabilities(arena_id=arena.pk, names=names, weights=weights) is not first


# --- Changelog ---------------------------------------------------------------------------------


def test_the_changelog_says_what_moved_the_board(db: None, rounds: int, voter: Any) -> None:
    arena, models = make_arena(contenders=4, min_votes_to_rank=30)
    add_pair_votes(arena, random_pairs(models[:3], 300, seed=12), seed=12)
    services.leaderboard_compute(arena=arena)
    assert LeaderboardChange.objects.filter(arena=arena, text__startswith="First board").exists()
    # a newcomer plays, some votes are excluded, a model is retired, the threshold changes
    votes = add_pair_votes(
        arena, [(models[3], models[k % 3]) for k in range(40)], seed=13, start_index=1000
    )
    Vote.objects.filter(pk__in=[v.pk for v in votes[:5]]).update(
        is_valid=False, invalid_reason=InvalidReason.TOO_FAST
    )
    Contender.objects.filter(pk=models[0].pk).update(enabled=False)
    newcomer = Contender.objects.create(name="newcomer", provider=models[0].provider)
    newcomer.arenas.add(arena)
    Arena.objects.filter(pk=arena.pk).update(min_votes_to_rank=20)
    arena.refresh_from_db()
    services.leaderboard_compute(arena=arena)
    texts = list(LeaderboardChange.objects.filter(arena=arena).values_list("text", flat=True))
    assert f"{models[3].name} ranked: 35 counted votes reach the minimum of 20" in texts
    assert f"{newcomer.name} added (provisional, 0 votes)" in texts
    assert any(t.startswith(f"{models[0].name} retired") for t in texts)
    assert any(t.startswith("5 more votes not counted: Cast faster") for t in texts)
    assert "Method: votes needed to be ranked 30 → 20" in texts
    board = voter.get(f"/api/arenas/{arena.slug}/leaderboard").json()
    assert board["changes"][0]["text"] in texts
    page = voter.get(f"/arena/{arena.slug}/leaderboard/").content.decode()
    assert 'id="changelog"' in page and "30 → 20" in page
    assert ">retired</span>" in page  # its votes still count: it stays on the board, marked


def test_a_board_from_before_provisional_models_logs_the_method_change(
    db: None, rounds: int
) -> None:
    from arena.leaderboards.models import LeaderboardSnapshot

    arena, models = make_arena(contenders=3)
    add_pair_votes(arena, random_pairs(models, 200, seed=14), seed=14)
    LeaderboardSnapshot.objects.create(  # as an older refresh stored it
        arena=arena,
        rows=[{"rank": 1, "model": m.name, "rating": 1000.0} for m in models],
        params={"bootstrap_rounds": rounds, "both_bad": "tie"},
    )
    services.leaderboard_compute(arena=arena)
    texts = list(LeaderboardChange.objects.filter(arena=arena).values_list("text", flat=True))
    assert len(texts) == 1 and texts[0].startswith(
        "Method: models with fewer than 30 counted votes are provisional"
    )


def test_a_board_with_no_ranked_model_still_states_the_arenas_recipe(db: None, rounds: int) -> None:
    arena, models = make_arena(contenders=3, both_bad_counts_as_tie=False)
    add_pair_votes(arena, random_pairs(models, 12, seed=15), seed=15)
    services.leaderboard_compute(arena=arena)
    board = leaderboard_latest(arena=arena)
    assert all(r["provisional"] and r["rank"] is None for r in board["rows"])
    assert board["params"]["recipe"].endswith("--min-votes 30 --both-bad exclude")


def test_before_the_first_refresh_no_model_without_votes_is_ranked(db: None, voter: Any) -> None:
    arena, models = make_arena(contenders=3)
    board = voter.get(f"/api/arenas/{arena.slug}/leaderboard").json()
    assert board["method"] == "elo" and len(board["rows"]) == 3
    assert all(r["provisional"] and r["rank"] is None for r in board["rows"])
    page = voter.get(f"/arena/{arena.slug}/leaderboard/").content.decode()
    assert "No model is ranked yet" in page and 'id="provisional"' in page


def test_before_the_first_refresh_the_board_counts_every_vote_already_cast(
    db: None, voter: Any
) -> None:
    """The vote path leaves the stored Elo rows to the refresh; until the first one, the
    board replays the few counted votes so each model's counts and Elo are current."""
    arena, models = make_arena(contenders=3, both_bad_counts_as_tie=False)
    pairs = random_pairs(models, 40, seed=5)
    votes = add_pair_votes(arena, pairs, seed=5)
    Vote.objects.filter(pk=votes[0].pk).update(is_valid=False, invalid_reason="too_fast")
    counted = votes[1:]
    board = voter.get(f"/api/arenas/{arena.slug}/leaderboard").json()
    assert board["method"] == "elo" and board["votes"] == len(counted)
    rows = {row["model"]: row for row in board["rows"]}
    for model in models:
        mine = [v for v in counted if model.pk in (v.battle.left_id, v.battle.right_id)]
        played = [v for v in mine if v.choice != Choice.BOTH_BAD]  # excluded here
        row = rows[model.name]
        assert row["votes"] == len(played), model.name
        wins = sum(
            (v.choice == Choice.LEFT and v.battle.left_id == model.pk)
            or (v.choice == Choice.RIGHT and v.battle.right_id == model.pk)
            for v in played
        )
        assert row["wins"] == wins
        assert row["ties"] == sum(v.choice == Choice.TIE for v in played)
    assert sorted(r["elo"] for r in board["rows"]) != [1000.0] * 3
