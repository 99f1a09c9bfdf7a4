"""The lower apps make the higher ones act, or ask them, through signals
(docs/architecture.md): each receiver is connected and does its part."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from arena.battles.models import Contender
from arena.battles.sampling import arena_pair_probabilities
from arena.battles.selectors import _voter_reason
from arena.battles.signals import sampler_state
from arena.leaderboards.models import LeaderboardSnapshot
from arena.votes.models import InvalidReason, voter_reason


@pytest.mark.django_db
def test_the_pair_draw_reads_the_newest_snapshots_sampler_state(demo_arena: Any) -> None:
    names = ["a", "b", "c"]
    before = arena_pair_probabilities(arena_id=demo_arena.pk, names=names, weights=[1.0] * 3)
    state = {
        "models": ["a", "b"],
        "ratings": [1000.0, 1000.0],
        "games": [[0, 400], [400, 0]],
        "ties": [[0, 0], [0, 0]],
    }
    snapshot = LeaderboardSnapshot.objects.create(arena=demo_arena, matrices={"sampler": state})
    answers = [answer for _, answer in sampler_state.send(sender=None, arena_id=demo_arena.pk)]
    assert [(version, load()) for version, load in answers] == [(snapshot.pk, state)]
    after = arena_pair_probabilities(arena_id=demo_arena.pk, names=names, weights=[1.0] * 3)
    np.testing.assert_allclose(before.probability, 1 / 3)  # nothing known: uniform
    known_pair = [k for k in range(3) if {after.pair_i[k], after.pair_j[k]} == {0, 1}][0]
    assert after.probability[known_pair] < 1 / 3  # a and b are settled: c is drawn more


@pytest.mark.django_db
def test_the_sampler_state_follows_a_rename_before_the_next_refresh(demo_arena: Any) -> None:
    """The state is keyed by contender id too: a model renamed since the last refresh keeps
    its games (else it would look brand new and be drawn more)."""
    first, second, third = Contender.objects.filter(arenas=demo_arena).order_by("pk")[:3]
    state = {
        "models": [first.name, second.name],
        "contender_ids": [first.pk, second.pk],
        "ratings": [1000.0, 1000.0],
        "games": [[0, 400], [400, 0]],
        "ties": [[0, 0], [0, 0]],
    }
    LeaderboardSnapshot.objects.create(arena=demo_arena, matrices={"sampler": state})
    names = [first.name, second.name, third.name]
    before = arena_pair_probabilities(arena_id=demo_arena.pk, names=names, weights=[1.0] * 3)
    first.name = "Renamed"
    first.save(update_fields=["name"])
    renamed = ["Renamed", second.name, third.name]
    after = arena_pair_probabilities(arena_id=demo_arena.pk, names=renamed, weights=[1.0] * 3)
    np.testing.assert_allclose(after.probability, before.probability)
    [(_, load)] = [answer for _, answer in sampler_state.send(sender=None, arena_id=demo_arena.pk)]
    assert load()["models"] == ["Renamed", second.name]


def test_a_battle_states_the_votes_apps_words_for_an_uncounted_vote() -> None:
    assert _voter_reason(InvalidReason.TOO_FAST) == voter_reason(InvalidReason.TOO_FAST)
    assert _voter_reason(InvalidReason.TOO_FAST)
    assert _voter_reason("") is None
