"""A contender whose provider keeps failing leaves the sampler; the admin says why; a
successful "Test generate" puts it back."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.battles import services
from arena.battles.models import Battle, Contender


@pytest.fixture
def broken(demo_arena: Any, settings: Any) -> Contender:
    settings.ARENA_PAUSE_AFTER_FAILURES = 3
    contender = Contender.objects.get(name="Demo Static")
    contender.parameters = {"style": "no-such-style"}  # every generation fails: bad config
    contender.save()
    return contender


def _battles_until_paused(run_on_commit: Any, contender: Contender, limit: int = 60) -> int:
    for i in range(limit):
        run_on_commit(
            services.battle_create,
            arena_slug="text-to-image",
            voter_id=f"v{i}",
            prompt_text=f"a red barn number {i}",
        )
        contender.refresh_from_db()
        if contender.paused_at:
            return i
    raise AssertionError("never paused")


def test_a_contender_failing_n_times_in_a_row_is_paused_and_no_longer_drawn(
    broken: Contender, run_on_commit: Any
) -> None:
    _battles_until_paused(run_on_commit, broken)
    assert broken.failure_streak == 3
    assert "3 failed outputs in a row" in broken.paused_reason
    assert "bad_configuration" in broken.paused_reason
    before = Battle.objects.count()
    for i in range(40):
        battle = services.battle_create(
            arena_slug="text-to-image", voter_id=f"w{i}", prompt_text=f"a boat {i}"
        )
        assert broken.pk not in (battle.left_id, battle.right_id)
    assert Battle.objects.count() == before + 40


def test_a_success_resets_the_streak_and_refusals_do_not_count(
    demo_arena: Any, settings: Any, run_on_commit: Any
) -> None:
    from arena.battles.health import contender_output_finished

    settings.ARENA_PAUSE_AFTER_FAILURES = 2
    contender = Contender.objects.get(name="Demo Aurora")
    assert not contender_output_finished(contender_id=contender.pk, error_code="timeout")
    assert not contender_output_finished(contender_id=contender.pk, error_code="")  # success
    assert not contender_output_finished(contender_id=contender.pk, error_code="moderation")
    assert not contender_output_finished(contender_id=contender.pk, error_code="cancelled")
    assert not contender_output_finished(contender_id=contender.pk, error_code="timeout")
    contender.refresh_from_db()
    assert contender.failure_streak == 1 and contender.paused_at is None
    assert contender_output_finished(
        contender_id=contender.pk, error_code="provider_error", error="HTTP 401: bad key"
    )
    contender.refresh_from_db()
    assert contender.paused_at and "HTTP 401" in contender.paused_reason


def test_admin_shows_why_and_a_successful_test_generate_resumes(
    broken: Contender, run_on_commit: Any
) -> None:
    _battles_until_paused(run_on_commit, broken)
    User.objects.create_superuser("op", "op@example.com", "pw")
    client = Client()
    client.login(username="op", password="pw")
    listing = client.get("/admin/battles/contender/").content.decode()
    assert "paused: Paused automatically: 3 failed outputs in a row" in listing
    url = f"/admin/battles/contender/{broken.pk}/test-generate/"
    page = client.get(url).content.decode()
    assert 'id="paused"' in page and "A successful test generate" in page
    form = {"prompt": "a lighthouse", "width": 64, "height": 64, "seed": 1}
    failed = client.post(url, form).content.decode()  # still broken: stays paused
    assert "Failed: bad_configuration" in failed
    broken.refresh_from_db()
    assert broken.paused_at is not None
    Contender.objects.filter(pk=broken.pk).update(parameters={"style": "noise"})
    page = client.post(url, form).content.decode()
    assert 'id="resumed"' in page
    broken.refresh_from_db()
    assert broken.paused_at is None and broken.failure_streak == 0 and not broken.paused_reason
    seen = set()
    for i in range(60):
        battle = services.battle_create(
            arena_slug="text-to-image", voter_id=f"x{i}", prompt_text=f"a kite {i}"
        )
        seen |= {battle.left_id, battle.right_id}
    assert broken.pk in seen


def test_a_missing_api_key_pauses_the_contender_too(
    demo_arena: Any, settings: Any, run_on_commit: Any, monkeypatch: Any
) -> None:
    from arena.battles.models import Provider

    settings.ARENA_PAUSE_AFTER_FAILURES = 2
    monkeypatch.delenv("ARENA_TEST_MISSING_KEY", raising=False)
    provider = Provider.objects.create(
        name="Keyless", kind="demo", api_key_env="ARENA_TEST_MISSING_KEY"
    )
    contender = Contender.objects.get(name="Demo Mosaic")
    Contender.objects.filter(pk=contender.pk).update(provider=provider)
    paused_after = _battles_until_paused(run_on_commit, contender)
    assert "ARENA_TEST_MISSING_KEY" in contender.paused_reason
    assert paused_after >= 1  # two failures were needed, not one
