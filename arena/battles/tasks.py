"""Celery tasks: take ids, call a service. Late-acknowledged and idempotent."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from arena.battles import generation, instant, services


@shared_task(
    acks_late=True, reject_on_worker_lost=True, name="arena.battles.tasks.output_generate_task"
)
def output_generate_task(output_id: int) -> None:
    try:
        generation.output_generate(output_id=output_id)
    except Exception as exc:
        generation.output_fail_unexpected(output_id=output_id, message=repr(exc))
        raise


@shared_task(name="arena.battles.tasks.battles_fail_stale_task")
def battles_fail_stale_task(*_: Any) -> dict[str, int]:
    """The periodic sweep (the name is kept for running beats and workers): stale battles,
    the apps above's stale work, unused old uploads."""
    return services.sweep_run()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    name="arena.battles.tasks.instant_output_generate_task",
)
def instant_output_generate_task(entry_id: int) -> None:
    try:
        instant.instant_output_generate(entry_id=entry_id)
    except Exception as exc:
        instant.instant_output_fail_unexpected(entry_id=entry_id, message=repr(exc))
        raise


@shared_task(name="arena.battles.tasks.instant_stock_fill_task")
def instant_stock_fill_task(arena_id: int) -> int:
    return instant.instant_stock_fill(arena_id=arena_id)


@shared_task(name="arena.battles.tasks.instant_stock_task")
def instant_stock_task(*_: Any) -> int:
    """Periodic: drop stale or unservable stock, then top every instant arena up."""
    return instant.instant_stock_maintain()
