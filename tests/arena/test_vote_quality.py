"""Abuse resistance: rate limits, moderation, and votes that are stored but do not count."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from arena.battles import services
from arena.battles.models import Arena, Battle, Output, Prompt
from arena.battles.moderation import PromptRefused
from arena.battles.ratelimit import RateLimited
from arena.votes.models import EloRating, FlaggedVoter, Vote
from arena.votes.services import elo_rebuild, vote_cast


def ready(run_on_commit: Any, *, voter: str = "v1", prompt: str = "a lighthouse") -> Battle:
    battle = run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id=voter, prompt_text=prompt
    )
    return Battle.objects.get(pk=battle.pk)


def test_battle_rate_limit_per_voter_gives_429_with_retry_after(
    demo_arena: Any, voter: Any, settings: Any
) -> None:
    settings.ARENA_RATE_BATTLES_PER_VOTER = 3
    codes = [
        voter.post("/api/arenas/text-to-image/battles", {"prompt": f"p{i}"}).status_code
        for i in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    limited = voter.post("/api/arenas/text-to-image/battles", {"prompt": "again"})
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert "at most 3" in limited.json()["error"]["message"]
    assert Battle.objects.count() == 3


def test_battle_rate_limit_per_address_spans_voters(
    demo_arena: Any, make_voter: Any, settings: Any
) -> None:
    settings.ARENA_RATE_BATTLES_PER_ADDRESS = 2
    first, second = make_voter(), make_voter()
    assert first.post("/api/arenas/text-to-image/battles", {"prompt": "a"}).status_code == 201
    assert second.post("/api/arenas/text-to-image/battles", {"prompt": "b"}).status_code == 201
    assert second.post("/api/arenas/text-to-image/battles", {"prompt": "c"}).status_code == 429


def test_vote_rate_limit_refuses_without_storing(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_RATE_VOTES_PER_VOTER = 1
    battles = [ready(run_on_commit, prompt=f"p{i}") for i in range(2)]
    vote_cast(battle_id=battles[0].pk, voter_id="v1", choice="left")
    with pytest.raises(RateLimited):
        vote_cast(battle_id=battles[1].pk, voter_id="v1", choice="left")
    assert Vote.objects.count() == 1


def test_blocklisted_prompt_is_refused_and_creates_no_battle(
    demo_arena: Any, voter: Any, settings: Any
) -> None:
    settings.ARENA_PROMPT_BLOCKLIST = ["gore", "weapon"]
    response = voter.post("/api/arenas/text-to-image/battles", {"prompt": "A WEAPON on a table"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "prompt_refused"
    assert "blocked term" in response.json()["error"]["message"]
    assert Battle.objects.count() == 0 and Prompt.objects.filter(source="user").count() == 0
    ok = voter.post("/api/arenas/text-to-image/battles", {"prompt": "weaponless knight"})
    assert ok.status_code == 201


class _Moderation(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        flagged = "dragon" in body["input"]
        payload = json.dumps({"id": "modr-1", "results": [{"flagged": flagged}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def test_remote_moderation_service_can_refuse_a_prompt(demo_arena: Any, settings: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Moderation)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.ARENA_MODERATION_URL = f"http://127.0.0.1:{server.server_port}/v1/moderations"
        with pytest.raises(PromptRefused, match="content policy"):
            services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a dragon")
        services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    finally:
        server.shutdown()
    assert Battle.objects.count() == 1


def test_unreachable_moderation_service_fails_open_or_closed_as_configured(
    demo_arena: Any, settings: Any
) -> None:
    settings.ARENA_MODERATION_URL = "http://127.0.0.1:9/v1/moderations"
    settings.ARENA_MODERATION_FAIL_CLOSED = False  # fails closed unless told otherwise
    services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    settings.ARENA_MODERATION_FAIL_CLOSED = True
    with pytest.raises(PromptRefused, match="could not check"):
        services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a dog")


def test_too_fast_vote_is_stored_but_flagged_and_not_counted(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_MIN_VOTE_SECONDS = 60.0
    battle = ready(run_on_commit)
    cast = vote_cast(battle_id=battle.pk, voter_id="v1", choice="left")
    assert cast.vote.pk and not cast.vote.is_valid and cast.vote.invalid_reason == "too_fast"
    elo_rebuild(arena=battle.arena)
    assert not EloRating.objects.filter(votes__gt=0).exists()


def test_repeated_prompt_counts_once_per_voter(demo_arena: Any, run_on_commit: Any) -> None:
    first = ready(run_on_commit, prompt="A  Red fox")
    second = ready(run_on_commit, prompt="a red FOX")
    other_voter = ready(run_on_commit, voter="v2", prompt="a red fox")
    assert vote_cast(battle_id=first.pk, voter_id="v1", choice="left").vote.is_valid
    repeat = vote_cast(battle_id=second.pk, voter_id="v1", choice="left").vote
    assert not repeat.is_valid and repeat.invalid_reason == "repeated_prompt"
    assert vote_cast(battle_id=other_voter.pk, voter_id="v2", choice="left").vote.is_valid


def test_daily_cap_stops_counting_but_keeps_votes(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_VOTER_DAILY_CAP = 2
    votes = [
        vote_cast(
            battle_id=ready(run_on_commit, prompt=f"p{i}").pk, voter_id="v1", choice="tie"
        ).vote
        for i in range(3)
    ]
    assert [v.is_valid for v in votes] == [True, True, False]
    assert votes[2].invalid_reason == "daily_cap"
    assert Vote.objects.count() == 3


def test_flagged_voter_votes_are_kept_but_excluded(demo_arena: Any, run_on_commit: Any) -> None:
    FlaggedVoter.objects.create(voter_id="v1", reason="always left")
    vote = vote_cast(battle_id=ready(run_on_commit).pk, voter_id="v1", choice="left").vote
    assert not vote.is_valid and vote.invalid_reason == "flagged_voter"


def test_text_output_naming_a_model_voids_the_vote(demo_arena: Any, run_on_commit: Any) -> None:
    battle = ready(run_on_commit)
    Arena.objects.update(modality="text")  # only text outputs can spell out a name
    Output.objects.filter(battle=battle, side="left").update(
        text=f"As {battle.left.name}, I drew this."
    )
    vote = vote_cast(battle_id=battle.pk, voter_id="v1", choice="left").vote
    assert not vote.is_valid and vote.invalid_reason == "identity_leaked"


def test_client_address_is_stored_only_as_a_keyed_hash(demo_arena: Any, voter: Any) -> None:
    voter.post("/api/arenas/text-to-image/battles", {"prompt": "a cat"})
    battle = Battle.objects.get()
    assert len(battle.voter_address) == 32 and "127.0.0.1" not in battle.voter_address
