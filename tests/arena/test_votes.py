"""Voting rules and the online Elo update."""

from __future__ import annotations

from typing import Any

import pytest

from arena.battles import services
from arena.battles.errors import Conflict, InvalidInput, NotFound
from arena.battles.models import Battle, BattleStatus
from arena.votes.models import EloRating, Vote
from arena.votes.selectors import leaderboard_get
from arena.votes.services import elo_rebuild, elo_standings, vote_cast
from ratings.elo import elo_expected, elo_update


def test_elo_update_matches_hand_computation() -> None:
    # equal ratings: expected 0.5, K=4 -> the winner gains exactly 2 points
    assert elo_update(1000.0, 1000.0, 1.0) == (1002.0, 998.0)
    # 1100 vs 1000: expected = 1 / (1 + 10 ** (-100 / 400)) = 0.640065
    assert elo_expected(1100.0, 1000.0) == pytest.approx(0.6400649998)
    a, b = elo_update(1100.0, 1000.0, 0.0)
    assert a == pytest.approx(1100 - 4 * 0.6400649998)
    assert b == pytest.approx(1000 + 4 * 0.6400649998)
    assert elo_update(1000.0, 1000.0, 0.5) == (1000.0, 1000.0)
    with pytest.raises(ValueError):
        elo_update(1000.0, 1000.0, 2.0)


def test_elo_standings_replay_votes_in_order() -> None:
    standings = elo_standings([(1, 2, "left"), (1, 2, "left"), (2, 3, "tie"), (3, 1, "both_bad")])
    expected_1, expected_2 = elo_update(*elo_update(1000.0, 1000.0, 1.0), 1.0)
    assert standings[1].votes == 3 and standings[1].wins == 2 and standings[1].ties == 1
    assert standings[2].losses == 2 and standings[3].ties == 2
    without_both_bad = elo_standings([(1, 2, "left"), (3, 1, "both_bad")], both_bad_counts=False)
    assert 3 not in without_both_bad and without_both_bad[1].rating == 1002.0
    assert expected_1 > 1002.0 and expected_2 < 998.0


@pytest.fixture
def ready_battle(demo_arena: Any, run_on_commit: Any) -> Battle:
    battle = run_on_commit(
        services.battle_create,
        arena_slug="text-to-image",
        voter_id="v1",
        prompt_text="a lighthouse",
    )
    battle = Battle.objects.get(pk=battle.pk)
    assert battle.status == BattleStatus.READY
    return battle


def test_vote_is_stored_and_its_commit_updates_elo_of_both_sides(
    ready_battle: Battle, run_on_commit: Any
) -> None:
    cast = run_on_commit(vote_cast, battle_id=ready_battle.pk, voter_id="v1", choice="left")
    assert not cast.replayed and cast.vote.choice == "left"
    ready_battle.refresh_from_db()
    assert ready_battle.status == BattleStatus.VOTED
    left = EloRating.objects.get(contender=ready_battle.left)
    right = EloRating.objects.get(contender=ready_battle.right)
    assert (left.rating, right.rating) == (1002.0, 998.0)
    assert (left.wins, left.votes, right.losses, right.votes) == (1, 1, 1, 1)
    assert cast.vote.seconds_to_vote is not None and cast.vote.seconds_to_vote >= 0


def test_tie_and_both_bad_count_half_each_way(ready_battle: Battle) -> None:
    vote_cast(battle_id=ready_battle.pk, voter_id="v1", choice="both_bad")
    elo_rebuild(arena=ready_battle.arena)
    left = EloRating.objects.get(contender=ready_battle.left)
    assert (left.rating, left.ties, left.votes, left.win_rate) == (1000.0, 1, 1, 0.5)


def test_both_bad_can_be_excluded_per_arena(ready_battle: Battle) -> None:
    ready_battle.arena.both_bad_counts_as_tie = False
    ready_battle.arena.save()
    vote_cast(battle_id=ready_battle.pk, voter_id="v1", choice="both_bad")
    elo_rebuild(arena=ready_battle.arena)
    assert Vote.objects.count() == 1
    assert not EloRating.objects.filter(votes__gt=0).exists()


def test_second_vote_is_a_conflict_and_stores_nothing(ready_battle: Battle) -> None:
    vote_cast(battle_id=ready_battle.pk, voter_id="v1", choice="left")
    with pytest.raises(Conflict, match="already voted"):
        vote_cast(battle_id=ready_battle.pk, voter_id="v1", choice="right")
    assert Vote.objects.count() == 1
    elo_rebuild(arena=ready_battle.arena)
    assert EloRating.objects.get(contender=ready_battle.left).votes == 1


def test_same_idempotency_key_replays_the_first_answer(ready_battle: Battle) -> None:
    first = vote_cast(
        battle_id=ready_battle.pk, voter_id="v1", choice="left", idempotency_key="k-1"
    )
    again = vote_cast(
        battle_id=ready_battle.pk, voter_id="v1", choice="left", idempotency_key="k-1"
    )
    assert again.replayed and again.vote.pk == first.vote.pk
    assert Vote.objects.count() == 1
    elo_rebuild(arena=ready_battle.arena)
    assert EloRating.objects.get(contender=ready_battle.left).votes == 1


def test_vote_before_ready_is_refused(demo_arena: Any) -> None:
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v1", prompt_text="a cat")
    with pytest.raises(Conflict, match="wait until both"):
        vote_cast(battle_id=battle.pk, voter_id="v1", choice="left")


def test_vote_on_failed_battle_is_refused(demo_arena: Any, run_on_commit: Any) -> None:
    battle = run_on_commit(
        services.battle_create,
        arena_slug="text-to-image",
        voter_id="v1",
        prompt_text="forbidden thing",
    )
    with pytest.raises(Conflict, match="failed"):
        vote_cast(battle_id=battle.pk, voter_id="v1", choice="left")
    elo_rebuild(arena=battle.arena)
    assert Vote.objects.count() == 0 and EloRating.objects.count() == 0


def test_vote_by_another_voter_reads_like_a_missing_battle(ready_battle: Battle) -> None:
    with pytest.raises(NotFound, match="no such battle"):
        vote_cast(battle_id=ready_battle.pk, voter_id="someone-else", choice="left")


@pytest.mark.parametrize("choice", ["LEFT", "a", "", None, 1, ["left"]])
def test_bad_choice_is_invalid(ready_battle: Battle, choice: object) -> None:
    with pytest.raises(InvalidInput, match="left, right, tie, both_bad"):
        vote_cast(battle_id=ready_battle.pk, voter_id="v1", choice=choice)


def test_unknown_battle_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        vote_cast(battle_id="00000000-0000-0000-0000-000000000000", voter_id="v", choice="tie")


def test_leaderboard_orders_by_elo_and_counts_votes(demo_arena: Any, run_on_commit: Any) -> None:
    winners = []
    for i in range(6):
        battle = run_on_commit(
            services.battle_create,
            arena_slug="text-to-image",
            voter_id="v1",
            prompt_text=f"prompt {i}",
        )
        vote_cast(battle_id=battle.pk, voter_id="v1", choice="left")
        winners.append(Battle.objects.get(pk=battle.pk).left.name)
    elo_rebuild(arena=demo_arena)
    board = leaderboard_get(arena=demo_arena)
    assert board["votes"] == 6
    ratings = [row["rating"] for row in board["rows"]]
    assert ratings == sorted(ratings, reverse=True)
    assert [row["rank"] for row in board["rows"]] == list(range(1, 6))
    assert sum(row["votes"] for row in board["rows"]) == 12
    assert board["rows"][0]["model"] in winners
