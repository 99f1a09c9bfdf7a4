"""Before the vote, nothing a voter receives names a model, a provider or an organisation.

Full battles with every provider kind, each against its protocol fake on 127.0.0.1, on a live
arena: every byte of every HTML page, JSON response, WebSocket message, HTTP header and output
file the voter receives is scanned for every registered name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes import FakeProviderServer, start_fake
from tests.fakes.cases import CASES
from tests.fakes.testing import FAST_OPTIONS
from tests.live import LiveArena, Voter

pytestmark = pytest.mark.services
KINDS = sorted(CASES)


def names_for(kind: str) -> dict[str, str]:
    return {
        "provider": f"Vendor {kind} Cloud",
        "first": f"Secret {kind} Model",
        "second": f"Hidden {kind} Model Two",
        "organization": f"{kind.replace('_', ' ').title()} Labs Incorporated",
        "model_id": CASES[kind].model_id or f"{kind}-model-x7",
    }


def setup_code(servers: dict[str, FakeProviderServer]) -> str:
    """Python for `manage.py shell`: one arena per kind with two contenders of that kind."""
    lines = ["from arena.battles.models import Arena, Provider, Contender"]
    for kind, server in servers.items():
        case, names = CASES[kind], names_for(kind)
        modality = case.request.get("modality", "image")
        options = {**FAST_OPTIONS, **case.options}
        lines += [
            f"a = Arena.objects.create(slug='anon-{kind.replace('_', '-')}', title='Anon',"
            f" modality={modality!r}, width=512, height=512, duration_s=4)",
            f"p = Provider.objects.create(name={names['provider']!r}, kind={kind!r},"
            f" base_url={server.base_url + case.suffix!r}, api_key_env='ARENA_TEST_KEY',"
            f" options={options!r}, timeout_s=10)",
        ]
        for label in ("first", "second"):
            lines.append(
                f"c = Contender.objects.create(name={names[label]!r},"
                f" organization={names['organization']!r}, provider=p,"
                f" model_id={names['model_id']!r}); c.arenas.add(a)"
            )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, FakeProviderServer]]:
    started = {kind: start_fake(CASES[kind].fake()) for kind in KINDS}
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def arena(
    tmp_path_factory: pytest.TempPathFactory, servers: dict[str, FakeProviderServer]
) -> Iterator[LiveArena]:
    live = LiveArena(tmp_path_factory.mktemp("anon"), extra_env={"ARENA_TEST_KEY": "test-key"})
    live.start()
    try:
        live.manage("shell", "-c", setup_code(servers))
        yield live
    finally:
        live.stop()


def every_name() -> list[str]:
    found = ["Demo Aurora", "Demo Lab North", "Demo renderer"]
    for kind in KINDS:
        found += list(names_for(kind).values())
    # Shorter strings cannot be told apart from chance matches in compressed image bytes.
    return [name for name in found if len(name) >= 6]


def received(response: requests.Response) -> bytes:
    headers = "".join(f"{k}: {v}\n" for k, v in response.headers.items()).encode()
    return headers + response.content


def play(arena: LiveArena, slug: str) -> tuple[bytes, dict[str, Any]]:
    """Everything one voter receives in one battle, up to (not including) the vote."""
    voter = Voter(arena)
    seen = [received(voter.get(f"/arena/{slug}/"))]
    created = voter.post(f"/api/arenas/{slug}/battles", {"prompt": "a red fox in the snow"})
    assert created.status_code == 201, created.text
    seen.append(received(created))
    battle_id = created.json()["id"]
    ws = voter.socket(f"/ws/battles/{battle_id}/")
    final: dict[str, Any] = {}
    try:
        while final.get("status") not in ("ready", "failed"):
            raw = ws.recv()
            seen.append(raw.encode() if isinstance(raw, str) else raw)
            final = json.loads(raw)["state"]
    finally:
        ws.close()
    seen.append(received(voter.get(f"/api/battles/{battle_id}")))
    seen.append(received(voter.get(f"/arena/{slug}/?battle={battle_id}")))
    for output in final["outputs"]:
        if output["url"]:
            seen.append(output["url"].encode())
            seen.append(received(voter.get(output["url"])))
    return b"\n".join(seen), final


def assert_anonymous(blob: bytes) -> None:
    text = blob.decode("latin-1").casefold()
    leaks = [name for name in every_name() if name.casefold() in text]
    assert not leaks, f"names reached the voter before the vote: {leaks}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_byte_before_the_vote_names_a_model(arena: LiveArena, kind: str) -> None:
    blob, final = play(arena, f"anon-{kind.replace('_', '-')}")
    assert final["status"] == "ready", f"{kind}: {final}\n{arena.logs()}"
    assert all(o["url"] for o in final["outputs"])
    assert_anonymous(blob)


@pytest.mark.parametrize(
    ("kind", "outcome"), [("openai_images", "moderation"), ("bfl", "content_moderated")]
)
def test_a_refused_generation_does_not_leak_the_providers_words(
    arena: LiveArena, servers: dict[str, FakeProviderServer], kind: str, outcome: str
) -> None:
    fake = servers[kind].fake
    fake.outcome = outcome
    try:
        blob, final = play(arena, f"anon-{kind.replace('_', '-')}")
    finally:
        fake.outcome = "ok"
    assert final["status"] == "failed" and "refused this prompt" in final["failure"]
    assert_anonymous(blob)
    assert b"moderation_blocked" not in blob and b"Moderated" not in blob


def test_the_vote_then_reveals_the_names(arena: LiveArena) -> None:
    voter = Voter(arena)
    battle = voter.post("/api/arenas/anon-bfl/battles", {"prompt": "a cat"}).json()
    ws = voter.socket(f"/ws/battles/{battle['id']}/")
    try:
        voter.follow_until(ws, {"ready"})
    finally:
        ws.close()
    revealed = voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "tie"}).json()
    assert {revealed["left"]["name"], revealed["right"]["name"]} == {
        names_for("bfl")["first"],
        names_for("bfl")["second"],
    }
    assert Path(arena.workdir / "arena.sqlite3").exists()
