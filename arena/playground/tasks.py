"""The playground's Celery task and its queueing (the battles' dispatch: Celery with a broker,
else the embedded thread pool)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from arena.playground import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    name="arena.playground.tasks.generation_run_task",
)
def generation_run_task(generation_id: str) -> None:
    try:
        services.generation_run(generation_id=generation_id)
    except Exception as exc:
        services.generation_fail_unexpected(generation_id=generation_id, message=repr(exc))
        raise


def generation_enqueue(*, generation_id: object, provider_kind: str) -> None:
    from arena.battles.dispatch import _embedded_executor, queue_for, run_in_thread

    args = (str(generation_id),)
    if settings.ARENA_EMBEDDED_TASKS and settings.ARENA_TASKS_INLINE:
        generation_run_task.apply(args=args, throw=False)
    elif settings.ARENA_EMBEDDED_TASKS:
        _embedded_executor().submit(run_in_thread, generation_run_task, *args)
    else:
        generation_run_task.apply_async(args=args, queue=queue_for(provider_kind))
