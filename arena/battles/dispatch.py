"""Queue generation work: Celery when a broker is configured, else threads in this process.

The embedded default has no broker and an in-memory channel layer that cannot cross processes,
so the same task code runs in a thread pool of the web process instead.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from generators.base import BadConfiguration, generator_class

logger = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_sweeper_started = False
_lock = threading.Lock()


def queue_for(provider_kind: str) -> str:
    try:
        return generator_class(provider_kind).queue
    except (BadConfiguration, ImportError):
        return "default"


def run_in_thread(task: Any, *args: object) -> None:
    """Run a Celery task's code eagerly in this (non-request) thread."""
    close_old_connections()
    try:
        task.apply(args=args, throw=False)
    except Exception:
        logger.exception("embedded task %s%s crashed", task.name, args)
    finally:
        close_old_connections()


def _sweep_forever() -> None:
    """Embedded stand-in for Celery beat: the sweep (stale battles and generations, unused
    old uploads), and the instant battles' stock (instant.py) kept topped up and clean."""
    while True:
        threading.Event().wait(settings.ARENA_SWEEP_EVERY_S)
        from arena.battles.tasks import battles_fail_stale_task, instant_stock_task

        run_in_thread(battles_fail_stale_task)
        run_in_thread(instant_stock_task)


def _embedded_executor() -> ThreadPoolExecutor:
    global _executor, _sweeper_started
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=settings.ARENA_GENERATION_THREADS, thread_name_prefix="generate"
            )
        if not _sweeper_started:
            threading.Thread(target=_sweep_forever, name="sweeper", daemon=True).start()
            _sweeper_started = True
    return _executor


def task_enqueue(task: Any, *args: object, queue: str = "default") -> None:
    """Run a task: on its Celery queue with a broker, else in this process's thread pool
    (at once, in this thread, with ARENA_TASKS_INLINE)."""
    if settings.ARENA_EMBEDDED_TASKS and settings.ARENA_TASKS_INLINE:
        task.apply(args=args, throw=False)  # Celery's eager mode
    elif settings.ARENA_EMBEDDED_TASKS:
        _embedded_executor().submit(run_in_thread, task, *args)
    else:
        task.apply_async(args=args, queue=queue)


def generation_enqueue(*, output_id: int, provider_kind: str) -> None:
    from arena.battles.tasks import output_generate_task

    task_enqueue(output_generate_task, output_id, queue=queue_for(provider_kind))
