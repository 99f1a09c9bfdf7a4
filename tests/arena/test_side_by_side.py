"""Named side-by-side battles (issue 11): the voter picks both models and sees their names from
the start; the vote is stored but never counted (no board, cell, Elo or default export)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from arena.battles.models import Battle, BattleMode, Contender
from arena.leaderboards.models import PairCell
from arena.leaderboards.refresh import leaderboard_compute
from arena.votes.models import EloRating, InvalidReason, Vote
from tests.conftest import VoterClient

BATTLES = "/api/arenas/text-to-image/battles"


def _ids(demo_arena: Any) -> list[int]:
    return list(
        Contender.objects.filter(arenas=demo_arena, enabled=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _side_by_side(voter: VoterClient, models: list[int], prompt: str = "a red fox") -> Any:
    return voter.post(BATTLES, {"prompt": prompt, "mode": "side_by_side", "models": models})


def test_names_show_from_the_start_in_the_order_chosen(demo_arena: Any, voter: VoterClient) -> None:
    a, b = _ids(demo_arena)[:2]
    response = _side_by_side(voter, [b, a])
    assert response.status_code == 201, response.content
    state = response.json()
    names = dict(Contender.objects.filter(pk__in=[a, b]).values_list("pk", "name"))
    assert state["mode"] == "side_by_side"
    assert state["models"]["left"]["name"] == names[b]
    assert state["models"]["right"]["name"] == names[a]
    battle = Battle.objects.get(pk=state["id"])
    assert (battle.left_id, battle.right_id, battle.mode) == (b, a, BattleMode.SIDE_BY_SIDE)
    assert battle.sampling_probability is None  # not a sampler draw
    again = voter.get(f"/api/battles/{state['id']}").json()
    assert again["models"] == state["models"]


def test_an_anonymous_battle_names_nobody_before_the_vote(
    demo_arena: Any, voter: VoterClient
) -> None:
    state = voter.post(BATTLES, {"prompt": "a red fox"}).json()
    assert state["mode"] == "anonymous" and state["models"] is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"mode": "side_by_side"}, "two model ids"),
        ({"mode": "side_by_side", "models": [1]}, "two model ids"),
        ({"mode": "side_by_side", "models": ["1", "2"]}, "two model ids"),
        ({"mode": "side_by_side", "models": [True, False]}, "two model ids"),
        ({"mode": "side_by_side", "models": "1,2"}, "two model ids"),
        ({"mode": "side_by_side", "models": ["SAME", "SAME"]}, "two different models"),
        ({"mode": "side_by_side", "models": ["FIRST", 999999]}, "No enabled model with id 999999"),
        ({"mode": "side_by_side", "models": ["FIRST", "DISABLED"]}, "No enabled model"),
        ({"mode": "blind"}, "mode must be one of"),
        ({"models": ["FIRST", "SECOND"]}, 'only be chosen with "mode": "side_by_side"'),
    ],
)
def test_bad_requests_are_a_400_saying_why(
    demo_arena: Any, voter: VoterClient, body: dict[str, Any], words: str
) -> None:
    first, second, third = _ids(demo_arena)[:3]
    Contender.objects.filter(pk=third).update(enabled=False)
    swap = {"SAME": first, "FIRST": first, "SECOND": second, "DISABLED": third}
    if isinstance(body.get("models"), list):
        body = {
            **body,
            "models": [swap.get(m, m) if isinstance(m, str) else m for m in body["models"]],
        }
    response = voter.post(BATTLES, {"prompt": "a red fox", **body})
    assert response.status_code == 400, response.content
    assert words in response.json()["error"]["message"]
    assert not Battle.objects.exists()


def test_a_model_of_another_arena_is_refused(demo_arena: Any, voter: VoterClient) -> None:
    from arena.battles.models import Arena

    other = Arena.objects.create(slug="elsewhere", title="Elsewhere")
    mine = Contender.objects.filter(arenas=demo_arena)[0]
    video_model = Contender.objects.create(name="Only elsewhere", provider=mine.provider)
    video_model.arenas.add(other)
    response = _side_by_side(voter, [_ids(demo_arena)[0], video_model.pk])
    assert response.status_code == 400
    assert f"No enabled model with id {video_model.pk}" in response.json()["error"]["message"]


def _body(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def _board(arena: Any) -> dict[str, Any]:
    return {
        "elo": sorted(
            EloRating.objects.filter(arena=arena).values_list(
                "contender_id", "rating", "votes", "wins", "losses", "ties"
            )
        ),
        "cells": sorted(
            PairCell.objects.filter(arena=arena).values_list(
                "category", "left_id", "right_id", "choice", "votes"
            )
        ),
    }


def test_a_side_by_side_vote_is_stored_but_changes_no_board_cell_elo_or_export(
    demo_arena: Any, voter: VoterClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        counted = voter.post(BATTLES, {"prompt": "a lighthouse"}).json()
    with django_capture_on_commit_callbacks(execute=True):
        cast = voter.post(f"/api/battles/{counted['id']}/vote", {"choice": "left"}).json()
    assert cast["counted"] is True
    [snapshot, *_] = leaderboard_compute(arena=demo_arena)
    before, rows_before = _board(demo_arena), snapshot.rows
    assert before["elo"]
    # cells are kept by PostgreSQL's triggers (arena.leaderboards.maintained); SQLite has none
    assert before["cells"] or connection.vendor != "postgresql"

    a, b = _ids(demo_arena)[:2]
    with django_capture_on_commit_callbacks(execute=True):
        state = _side_by_side(voter, [a, b], prompt="a castle").json()
    with django_capture_on_commit_callbacks(execute=True):
        vote = voter.post(f"/api/battles/{state['id']}/vote", {"choice": "right"})
    assert vote.status_code == 200
    assert vote.json()["counted"] is False
    assert "never count" in vote.json()["not_counted_reason"]
    stored = Vote.objects.get(battle_id=state["id"])
    assert (stored.is_valid, stored.invalid_reason) == (False, InvalidReason.SIDE_BY_SIDE)
    shown = voter.get(f"/api/battles/{state['id']}").json()
    assert shown["vote"]["counted"] is False and shown["models"]["left"]["name"]

    assert _board(demo_arena) == before
    [after, *_] = leaderboard_compute(arena=demo_arena)
    assert after.rows == rows_before
    assert after.votes == snapshot.votes
    assert InvalidReason.SIDE_BY_SIDE not in (after.excluded or {})

    default = _body(voter.get("/api/arenas/text-to-image/votes")).splitlines()
    assert len(default) == 1
    named = voter.get("/api/arenas/text-to-image/votes?mode=side_by_side")
    assert named.status_code == 200
    assert "side-by-side" in named["Content-Disposition"]
    rows = [json.loads(line) for line in _body(named).splitlines()]
    names = dict(Contender.objects.values_list("pk", "name"))
    assert [(r["model_a"], r["model_b"], r["winner"]) for r in rows] == [
        (names[a], names[b], "model_b")
    ]
    csv_rows = voter.get("/api/arenas/text-to-image/votes?mode=side_by_side&format=csv")
    assert len(_body(csv_rows).strip().splitlines()) == 2
    assert voter.get("/api/arenas/text-to-image/votes?mode=both").status_code == 400


def test_a_paused_model_is_refused_by_name(demo_arena: Any, voter: VoterClient) -> None:
    from django.utils import timezone

    a, b = _ids(demo_arena)[:2]
    Contender.objects.filter(pk=b).update(paused_at=timezone.now())
    paused = Contender.objects.get(pk=b).name
    response = _side_by_side(voter, [a, b])
    assert response.status_code == 400
    assert f"{paused} is paused" in response.json()["error"]["message"]
    playground = voter.post(
        "/api/arenas/text-to-image/generations", {"model": b, "prompt": "a red fox"}
    )
    assert playground.status_code == 400
    assert f"{paused} is paused" in playground.json()["error"]["message"]
    assert not Battle.objects.exists()
