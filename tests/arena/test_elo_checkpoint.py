"""The online Elo resumed from the last refresh's checkpoint equals a full replay, bit for bit,
and any change among the votes already replayed makes the refresh replay them all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from arena.battles.models import Arena, Contender
from arena.leaderboards import refresh
from arena.leaderboards.models import EloCheckpoint
from arena.votes.models import Choice, InvalidReason, Vote
from tests.arena.votes_factory import add_votes, make_arena


def _refresh(arena: Arena) -> tuple[dict[str, np.ndarray], int]:
    contenders = {c.name: c for c in Contender.objects.filter(arenas=arena)}
    phases: dict[str, float] = {}
    boards, _, _ = refresh.compute_boards(arena=arena, contenders=contenders, phases=phases)
    return {b.category: b.elo for b in boards}, int(phases["elo_votes_replayed"])


def _full(arena: Arena) -> dict[str, np.ndarray]:
    EloCheckpoint.objects.filter(arena=arena).delete()
    elo, replayed = _refresh(arena)
    assert replayed == Vote.objects.filter(battle__arena=arena, is_valid=True).count()
    return elo


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for category in a:
        np.testing.assert_array_equal(a[category], b[category], err_msg=category)


def _later(votes: list[Vote], days: int) -> None:
    for vote in votes:
        vote.created_at += timedelta(days=days)
    Vote.objects.bulk_update(votes, ["created_at"])


def test_a_resumed_replay_equals_a_full_one(db: None, settings: Any) -> None:
    settings.ARENA_BOOTSTRAP_ROUNDS = 20
    settings.ARENA_STYLE_BOOTSTRAP_ROUNDS = 20
    arena, models = make_arena()
    add_votes(arena, models, 300, seed=11)
    _, replayed = _refresh(arena)
    assert replayed == Vote.objects.filter(battle__arena=arena, is_valid=True).count()
    _later(add_votes(arena, models, 120, seed=12), days=2)  # votes after the checkpoint
    counted_new = Vote.objects.filter(
        battle__arena=arena, is_valid=True, created_at__gt=arena.created_at + timedelta(days=1)
    ).count()
    resumed, replayed = _refresh(arena)
    assert replayed == counted_new  # only the new votes
    _assert_same(resumed, _full(arena))


def test_a_change_among_replayed_votes_replays_them_all(db: None, settings: Any) -> None:
    settings.ARENA_BOOTSTRAP_ROUNDS = 20
    settings.ARENA_STYLE_BOOTSTRAP_ROUNDS = 20
    arena, models = make_arena()
    votes = add_votes(arena, models, 300, seed=13)
    counted = [v for v in votes if v.is_valid]
    changes = [
        lambda: Vote.objects.filter(pk=counted[10].pk).update(
            is_valid=False, invalid_reason=InvalidReason.FLAGGED_VOTER
        ),
        lambda: Vote.objects.filter(pk=counted[20].pk).update(choice=Choice.BOTH_BAD),
        lambda: Vote.objects.filter(pk=counted[30].pk).delete(),
        lambda: _later(add_votes(arena, models, 5, seed=14), days=-3),  # late, earlier times
    ]
    _refresh(arena)
    for change in changes:
        change()
        total = Vote.objects.filter(battle__arena=arena, is_valid=True).count()
        elo, replayed = _refresh(arena)
        assert replayed == total
        _assert_same(elo, _full(arena))
