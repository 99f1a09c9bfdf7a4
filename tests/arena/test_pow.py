"""Proof of work for new voter ids (issue 9): a first vote without it is refused with
instructions and nothing stored; a solution verifies one voter id once; the voter is not asked
again. Played through the HTTP API with a small difficulty."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.test import Client

from arena.battles.models import Battle
from arena.votes.models import Vote


@pytest.fixture(autouse=True)
def _pow_on(settings: Any) -> None:
    settings.ARENA_POW_BITS = 8  # the answer is below 2**8: a few hundred hashes


class Browser:
    def __init__(self) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.client.get("/api/arenas")

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(self, path: str, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post(
            path,
            json.dumps(body),
            content_type="application/json",
            headers={"X-CSRFToken": self.client.cookies["csrftoken"].value, **headers},
        )

    def battle(self, run_on_commit: Any, prompt: str = "a fox") -> str:
        created = run_on_commit(self.post, "/api/arenas/text-to-image/battles", {"prompt": prompt})
        assert created.status_code == 201, created.content
        return str(created.json()["id"])


def solve(challenge: dict[str, Any]) -> dict[str, Any]:
    """What any client does, following the 428's instructions (ALTCHA v1)."""
    assert challenge["algorithm"] == "SHA-256"
    for number in range(challenge["maxnumber"] + 1):
        digest = hashlib.sha256(f"{challenge['salt']}{number}".encode()).hexdigest()
        if digest == challenge["challenge"]:
            return {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")} | {
                "number": number
            }
    raise AssertionError("no solution in range")


def test_a_first_vote_without_proof_of_work_is_refused_with_instructions(
    demo_arena: Any, run_on_commit: Any
) -> None:
    browser = Browser()
    battle_id = browser.battle(run_on_commit)
    refused = browser.post(
        f"/api/battles/{battle_id}/vote", {"choice": "left"}, **{"Idempotency-Key": "k1"}
    )
    assert refused.status_code == 428
    error = refused.json()["error"]
    assert error["code"] == "proof_of_work_required"
    for needed in ("/api/challenge", "SHA-256", "maxnumber 2**8", "salt + decimal n"):
        assert needed in error["message"]
    assert not Vote.objects.exists()  # nothing stored, nothing counted

    challenge = browser.get("/api/challenge").json()
    assert challenge["verified"] is False and challenge["maxnumber"] == 256
    solved = browser.post("/api/challenge", solve(challenge))
    assert solved.status_code == 200 and solved.json() == {"verified": True}
    assert browser.get("/api/challenge").json() == {"verified": True}  # not asked again

    voted = browser.post(
        f"/api/battles/{battle_id}/vote", {"choice": "left"}, **{"Idempotency-Key": "k1"}
    )
    assert voted.status_code == 200 and Vote.objects.get().is_valid
    second = browser.battle(run_on_commit, prompt="a second prompt")
    assert browser.post(f"/api/battles/{second}/vote", {"choice": "tie"}).status_code == 200


def test_a_solution_cannot_be_replayed_for_another_voter(
    demo_arena: Any, run_on_commit: Any
) -> None:
    first, second = Browser(), Browser()
    solution = solve(first.get("/api/challenge").json())
    assert first.post("/api/challenge", solution).status_code == 200
    assert first.post("/api/challenge", solution).status_code == 200  # same voter: harmless
    replayed = second.post("/api/challenge", solution)
    assert replayed.status_code == 409
    assert "already solved" in replayed.json()["error"]["message"]
    battle_id = second.battle(run_on_commit)
    assert second.post(f"/api/battles/{battle_id}/vote", {"choice": "left"}).status_code == 428


def test_cookie_dropping_pays_the_proof_of_work_again(demo_arena: Any, run_on_commit: Any) -> None:
    verified = Browser()
    assert (
        verified.post("/api/challenge", solve(verified.get("/api/challenge").json())).status_code
        == 200
    )
    dropped = Browser()  # the same script with its cookies dropped: a new voter id
    assert dropped.get("/api/challenge").json()["verified"] is False
    battle_id = dropped.battle(run_on_commit)
    assert dropped.post(f"/api/battles/{battle_id}/vote", {"choice": "left"}).status_code == 428


@pytest.mark.parametrize("tamper", ["number", "signature", "salt", "algorithm", "missing"])
def test_wrong_or_forged_solutions_are_a_400(demo_arena: Any, tamper: str) -> None:
    browser = Browser()
    solution = solve(browser.get("/api/challenge").json())
    if tamper == "number":
        solution["number"] += 1
    elif tamper == "signature":
        solution["signature"] = "0" * 64
    elif tamper == "salt":
        solution["salt"] = solution["salt"].replace("expires=", "expires=9")
    elif tamper == "algorithm":
        solution["algorithm"] = "SHA-1"
    else:
        del solution["signature"]
    response = browser.post("/api/challenge", solution)
    assert response.status_code == 400
    assert browser.get("/api/challenge").json()["verified"] is False


def test_an_expired_challenge_is_refused(demo_arena: Any, settings: Any) -> None:
    browser = Browser()
    settings.ARENA_POW_EXPIRES_S = -5
    solution = solve(browser.get("/api/challenge").json())
    response = browser.post("/api/challenge", solution)
    assert response.status_code == 400 and "expired" in response.json()["error"]["message"]


def test_zero_bits_turns_proof_of_work_off(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_POW_BITS = 0
    browser = Browser()
    assert browser.get("/api/challenge").json() == {"verified": True}
    battle_id = browser.battle(run_on_commit)
    assert browser.post(f"/api/battles/{battle_id}/vote", {"choice": "left"}).status_code == 200
    assert Battle.objects.get().status == "voted"
