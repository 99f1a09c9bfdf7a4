"""The vote cells PostgreSQL keeps by triggers (issue 10) equal a recount from the votes after
every kind of change, and a refresh repairs cells that went wrong behind its back."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from arena.battles.models import Arena, Prompt
from arena.leaderboards import maintained, services
from arena.leaderboards.models import LeaderboardSnapshot, PairCell, StyleCell
from arena.votes.detector import voters_flag
from arena.votes.models import Choice, FlaggedVoter, InvalidReason, Vote
from tests.arena.votes_factory import (
    add_votes,
    cast_concurrently,
    make_arena,
    ready_battles,
    recount,
)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the cells are kept by PostgreSQL triggers"
)

Rows = dict[tuple[object, ...], tuple[float, ...]]


def _pairs(arena: Arena) -> dict[tuple[object, ...], int]:
    return {
        key[:-1]: key[-1]
        for key in PairCell.objects.filter(arena=arena, votes__gt=0).values_list(
            "category", "left_id", "right_id", "choice", "probability", "votes"
        )
    }


def _styles(arena: Arena) -> Rows:
    fields = [
        "left_id",
        "right_id",
        "choice",
        "probability",
        "bin_latency",
        "bin_pixels",
        "bin_aspect",
        "votes",
        "sum_latency",
        "sum_pixels",
        "sum_aspect",
        "min_latency",
        "max_latency",
        "min_pixels",
        "max_pixels",
        "min_aspect",
        "max_aspect",
    ]
    return {
        row[:7]: row[7:]
        for row in StyleCell.objects.filter(arena=arena, votes__gt=0).values_list(*fields)
    }


def assert_equal_to_a_recount(arena: Arena) -> None:
    """The kept cells against a recount (`cells_rebuild`) of the same votes: equal counts and
    sums; the kept bounds contain the recounted ones (a vote that leaves a cell cannot narrow
    them)."""
    pairs, styles = _pairs(arena), _styles(arena)
    maintained.cells_rebuild([arena.pk])
    assert pairs == _pairs(arena)
    again = _styles(arena)
    assert styles.keys() == again.keys()
    for key, kept in styles.items():
        fresh = again[key]
        assert kept[0] == fresh[0], key
        assert kept[1:4] == pytest.approx(fresh[1:4], abs=1e-9), key
        for low_kept, high_kept, low, high in (
            (kept[4], kept[5], fresh[4], fresh[5]),
            (kept[6], kept[7], fresh[6], fresh[7]),
            (kept[8], kept[9], fresh[8], fresh[9]),
        ):
            assert low_kept <= low <= high <= high_kept, key
    by_key: dict[tuple[object, ...], int] = {}
    for (category, left, right, choice, _), n in pairs.items():
        by_key[(category, left, right, choice)] = by_key.get((category, left, right, choice), 0) + n
    names = dict(arena.contenders.values_list("pk", "name"))
    assert {(c, names[a], names[b], ch): n for (c, a, b, ch), n in by_key.items()} == recount(arena)


def test_flagging_several_voters_at_once_keeps_the_cells(db: None) -> None:
    """The refresh flags every suspicious voter in one UPDATE: each one's counted votes leave
    the cells, a voter flagged before keeps their first reason, the others' votes stay."""
    arena, models = make_arena(slug="cells-flag")
    maintained.cells_rebuild()
    add_votes(arena, models, 300, seed=11, voter_count=6)
    FlaggedVoter.objects.create(voter_id="voter-2", reason="by hand")
    counted = {
        v: Vote.objects.filter(voter_id=v, is_valid=True).count()
        for v in ("voter-1", "voter-2", "voter-3")
    }
    assert all(counted.values())
    flagged = voters_flag(
        {
            "voter-2": ("always picks the same side", {}),
            "voter-1": ("always picks the same side", {"p_value": 1e-9}),
        }
    )
    assert flagged == ["voter-1", "voter-2"]
    assert not Vote.objects.filter(voter_id__in=flagged, is_valid=True).exists()
    assert (
        Vote.objects.filter(
            voter_id__in=flagged, invalid_reason=InvalidReason.FLAGGED_VOTER
        ).count()
        == counted["voter-1"] + counted["voter-2"]
    )
    assert Vote.objects.filter(voter_id="voter-3", is_valid=True).count() == counted["voter-3"]
    reasons = dict(FlaggedVoter.objects.values_list("voter_id", "reason"))
    assert reasons == {"voter-1": "always picks the same side", "voter-2": "by hand"}
    assert_equal_to_a_recount(arena)
    assert voters_flag({}) == []


def test_cells_follow_inserts_exclusions_changes_deletions_and_renames(db: None) -> None:
    maintained.cells_rebuild()  # the bins of these settings
    arena, models = make_arena()
    votes = add_votes(arena, models, 500, seed=5)
    assert_equal_to_a_recount(arena)
    Vote.objects.filter(pk__in=[v.pk for v in votes[::7]]).update(
        is_valid=False, invalid_reason=InvalidReason.FLAGGED_VOTER
    )
    Vote.objects.filter(pk__in=[v.pk for v in votes[::14]]).update(is_valid=True, invalid_reason="")
    Vote.objects.filter(pk__in=[v.pk for v in votes[3::9]]).update(choice=Choice.TIE)
    Vote.objects.filter(pk__in=[v.pk for v in votes[1::11]]).delete()
    Prompt.objects.filter(pk=votes[2].battle.prompt_id).update(category="renamed")
    Prompt.objects.filter(pk=votes[4].battle.prompt_id).update(text="same category")
    assert_equal_to_a_recount(arena)
    before = _styles(arena)
    Arena.objects.filter(pk=arena.pk).update(width=1024)  # the covariates change with it
    assert _styles(arena) != before
    assert_equal_to_a_recount(arena)


def test_a_refresh_recounts_cells_that_disagree_with_the_votes(db: None) -> None:
    maintained.cells_rebuild()
    arena, models = make_arena()
    add_votes(arena, models, 300, seed=9)
    PairCell.objects.filter(arena=arena).order_by("pk")[:1].get().delete()  # behind its back
    services.leaderboard_compute(arena=arena)
    board = LeaderboardSnapshot.objects.get(arena=arena, category="")
    assert board.votes == sum(recount(arena).values())
    assert_equal_to_a_recount(arena)


@pytest.mark.django_db(transaction=True)
def test_cells_equal_a_recount_after_concurrent_votes_and_a_flagging() -> None:
    maintained.cells_rebuild()
    arena, models = make_arena(slug="cells-concurrent")
    battles = ready_battles(arena, models, 60, voters=5)

    def exclude() -> None:
        excluded = 0
        for _ in range(200):  # bulk exclusions racing the votes (cells locked in key order)
            excluded += Vote.objects.filter(voter_id="v1", is_valid=True).update(
                is_valid=False, invalid_reason=InvalidReason.FLAGGED_VOTER
            )
            if excluded >= 6:
                break
            time.sleep(0.01)
        assert excluded, "no vote of v1 was excluded while the others voted"

    errors = cast_concurrently(battles, threads=3, alongside=[exclude])
    assert not errors
    assert Vote.objects.filter(battle__arena=arena).count() == 60
    assert_equal_to_a_recount(arena)
