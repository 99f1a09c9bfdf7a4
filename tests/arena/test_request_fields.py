"""Every JSON body the API reads refuses fields it does not know, naming them (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest

from arena.battles.models import Battle, Prompt


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        (
            "/api/arenas/text-to-image/battles",
            {"prompt": "a fox", "mood": "side_by_side"},
            ["'mood'"],
        ),
        (
            "/api/arenas/text-to-image/generations",
            {"model": 1, "prompt": "a fox", "seed": 7},
            ["'seed'"],
        ),
        (
            "/api/arenas/text-to-image/battles",
            {"prmpt": "a fox", "modles": [1, 2]},
            ["'prmpt'", "'modles'"],
        ),
        (
            "/api/challenge",
            {
                "algorithm": "SHA-256",
                "challenge": "x",
                "number": 1,
                "salt": "s",
                "signature": "t",
                "extra": 1,
            },
            ["'extra'"],
        ),
    ],
)
def test_an_unknown_field_is_a_400_that_names_it(
    demo_arena: Any, voter: Any, path: str, body: dict[str, Any], named: list[str]
) -> None:
    prompts_before = Prompt.objects.count()
    response = voter.post(path, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    for name in named:
        assert name in error["message"], error
    assert "accepts" in error["message"]
    assert Prompt.objects.count() == prompts_before and not Battle.objects.exists()


def test_a_vote_with_an_unknown_field_is_refused_and_not_stored(
    demo_arena: Any, voter: Any, run_on_commit: Any
) -> None:
    created = run_on_commit(voter.post, "/api/arenas/text-to-image/battles", {"prompt": "a fox"})
    battle_id = created.json()["id"]
    response = voter.post(f"/api/battles/{battle_id}/vote", {"choice": "left", "weight": 10})
    assert response.status_code == 400
    assert "'weight'" in response.json()["error"]["message"]
    assert Battle.objects.get(pk=battle_id).status != "voted"
    assert voter.post(f"/api/battles/{battle_id}/vote", {"choice": "left"}).status_code == 200


def test_a_hostile_field_name_is_shortened_and_escaped(demo_arena: Any, voter: Any) -> None:
    response = voter.post("/api/arenas/text-to-image/battles", {"prompt": "a fox", "x\n" * 100: 1})
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and "\n" not in message and len(message) < 300


def test_share_takes_no_fields_and_says_so(demo_arena: Any, voter: Any, run_on_commit: Any) -> None:
    created = run_on_commit(voter.post, "/api/arenas/text-to-image/battles", {"prompt": "a fox"})
    battle_id = created.json()["id"]
    voter.post(f"/api/battles/{battle_id}/vote", {"choice": "left"})
    refused = voter.post(f"/api/battles/{battle_id}/share", {"public": True})
    assert refused.status_code == 400
    assert "'public'" in refused.json()["error"]["message"]
    assert "accepts no fields" in refused.json()["error"]["message"]
    assert voter.post(f"/api/battles/{battle_id}/share").status_code == 201
