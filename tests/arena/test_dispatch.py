"""Routing: each provider kind's generation goes to its Celery queue."""

from __future__ import annotations

from typing import Any

import pytest

from arena.battles import dispatch, services
from arena.battles.models import Provider
from arena.battles.tasks import output_generate_task
from generators.base import REGISTRY


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_kind_has_a_queue(kind: str) -> None:
    expected = {"demo": "default", "local_diffusers": "gpu"}.get(kind, "remote")
    assert dispatch.queue_for(kind) == expected


def test_unknown_kind_goes_to_default() -> None:
    assert dispatch.queue_for("no_such_kind") == "default"


def test_with_a_broker_each_side_is_sent_to_its_providers_queue(
    demo_arena: Any, settings: Any, monkeypatch: Any, run_on_commit: Any
) -> None:
    settings.ARENA_EMBEDDED_TASKS = False
    sent: list[tuple[tuple[Any, ...], str]] = []
    monkeypatch.setattr(
        output_generate_task, "apply_async", lambda args, queue: sent.append((args, queue))
    )
    Provider.objects.update(kind="local_diffusers", options={"path": "/models/x"})
    battle = run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id="v", prompt_text="a cat"
    )
    assert sorted(sent) == sorted(((o.pk,), "gpu") for o in battle.outputs.all())


def test_an_unreachable_broker_fails_the_battle_at_once(
    demo_arena: Any, settings: Any, monkeypatch: Any, run_on_commit: Any
) -> None:
    settings.ARENA_EMBEDDED_TASKS = False

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(output_generate_task, "apply_async", broker_down)
    battle = run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id="v", prompt_text="a cat"
    )
    battle.refresh_from_db()
    assert battle.status == "failed" and "queue is unavailable" in battle.failure_reason
