"""Automatic pause against a real HTTP provider (the OpenAI images fake on 127.0.0.1): a
rejected key (401) and a run of 5xx pause the contender after N failed outputs, with a reason
the admin shows; a 5xx streak broken by a success does not pause."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.battles import services
from arena.battles.models import Arena, Contender, Output, Provider
from tests.fakes import FakeProviderServer, OpenAIImagesFake, start_fake
from tests.fakes.testing import FAST_OPTIONS

PAUSE_AFTER = 3
KEY_ENV = "ARENA_TEST_PAUSE_HTTP_KEY"


@pytest.fixture
def fake() -> Iterator[tuple[OpenAIImagesFake, FakeProviderServer]]:
    images = OpenAIImagesFake(api_key="test-key")
    server = start_fake(images)
    yield images, server
    server.stop()


@pytest.fixture
def remote(
    demo_arena: Any,
    settings: Any,
    monkeypatch: Any,
    fake: tuple[OpenAIImagesFake, FakeProviderServer],
) -> Contender:
    """A remote contender over real HTTP, drawn in every battle (one demo opponent left)."""
    settings.ARENA_PAUSE_AFTER_FAILURES = PAUSE_AFTER
    monkeypatch.setenv(KEY_ENV, "test-key")
    provider = Provider.objects.create(
        name="Images Cloud",
        kind="openai_images",
        base_url=fake[1].base_url + "/v1",
        api_key_env=KEY_ENV,
        options=FAST_OPTIONS,
        timeout_s=10,
    )
    arena = Arena.objects.get(slug="text-to-image")
    Contender.objects.filter(arenas=arena).exclude(name="Demo Static").update(enabled=False)
    contender = Contender.objects.create(
        name="Remote Images", provider=provider, model_id="gpt-image-1"
    )
    contender.arenas.add(arena)
    return contender


def _battle(run_on_commit: Any, contender: Contender, i: int) -> Output:
    """One battle; returns the remote contender's output (it plays in every battle)."""
    battle = run_on_commit(
        services.battle_create,
        arena_slug="text-to-image",
        voter_id=f"v{i}",
        prompt_text=f"a red barn number {i}",
    )
    output = Output.objects.get(battle=battle, contender=contender)
    contender.refresh_from_db()
    return output


def _admin() -> Client:
    User.objects.create_superuser("op", "op@example.com", "pw")
    client = Client()
    client.login(username="op", password="pw")
    return client


def test_a_rejected_key_401_pauses_after_n_failed_battles_and_the_admin_says_why(
    remote: Contender,
    run_on_commit: Any,
    monkeypatch: Any,
    fake: tuple[OpenAIImagesFake, FakeProviderServer],
) -> None:
    monkeypatch.setenv(KEY_ENV, "revoked-key")  # the fake accepts only "test-key"
    for i in range(PAUSE_AFTER):
        assert remote.paused_at is None, f"paused after only {i} failures"
        output = _battle(run_on_commit, remote, i)
        assert output.status == "failed"
    assert remote.paused_at is not None
    assert remote.failure_streak == PAUSE_AFTER
    assert f"{PAUSE_AFTER} failed outputs in a row" in remote.paused_reason
    assert "401" in remote.paused_reason, remote.paused_reason
    sent_keys = [r.header("Authorization") for r in fake[0].requests if r.route == "submit"]
    assert sent_keys.count("Bearer revoked-key") >= PAUSE_AFTER  # really asked, really refused
    client = _admin()
    listing = client.get("/admin/battles/contender/?paused=yes").content.decode()
    assert "Remote Images" in listing
    assert f"paused: Paused automatically: {PAUSE_AFTER} failed outputs in a row" in listing
    change = client.get(f"/admin/battles/contender/{remote.pk}/change/").content.decode()
    assert "401" in change and f"{PAUSE_AFTER} failed outputs in a row" in change
    Contender.objects.exclude(pk=remote.pk).update(enabled=True)
    for i in range(20):  # out of the sampler: no more requests reach the broken provider
        battle = services.battle_create(
            arena_slug="text-to-image", voter_id=f"w{i}", prompt_text=f"a boat {i}"
        )
        assert remote.pk not in (battle.left_id, battle.right_id)


def test_repeated_5xx_pauses_after_n_failed_battles(
    remote: Contender, run_on_commit: Any, fake: tuple[OpenAIImagesFake, FakeProviderServer]
) -> None:
    fake[0].fail_next(500, times=10_000, message="The server had an error")
    for i in range(PAUSE_AFTER):
        assert remote.paused_at is None, f"paused after only {i} failures"
        output = _battle(run_on_commit, remote, i)
        assert output.status == "failed"
    assert remote.paused_at is not None
    assert f"{PAUSE_AFTER} failed outputs in a row" in remote.paused_reason
    assert "500" in remote.paused_reason, remote.paused_reason
    client = _admin()
    change = client.get(f"/admin/battles/contender/{remote.pk}/change/").content.decode()
    assert "500" in change and f"{PAUSE_AFTER} failed outputs in a row" in change


def test_a_5xx_streak_broken_by_a_success_does_not_pause(
    remote: Contender, run_on_commit: Any, fake: tuple[OpenAIImagesFake, FakeProviderServer]
) -> None:
    images = fake[0]
    outcomes = []
    for i in range(2 * PAUSE_AFTER + 1):  # fail N-1, succeed once, fail N-1, succeed, ...
        images.failures.clear()
        if i % PAUSE_AFTER != PAUSE_AFTER - 1:
            images.fail_next(503, times=10_000)
        outcomes.append(_battle(run_on_commit, remote, i).status)
        assert remote.paused_at is None, (outcomes, remote.paused_reason)
    assert outcomes == ["failed", "failed", "ready"] * 2 + ["failed"]
    assert remote.failure_streak == 1
