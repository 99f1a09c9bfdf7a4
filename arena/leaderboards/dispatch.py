"""Schedule a leaderboard refresh: a Celery task with a countdown, or a timer thread in the
embedded default (same task code)."""

from __future__ import annotations

import threading

from django.conf import settings


def refresh_schedule(*, arena_id: int, countdown: float) -> None:
    from arena.leaderboards.tasks import leaderboard_refresh_task

    if settings.ARENA_EMBEDDED_TASKS and settings.ARENA_TASKS_INLINE:
        leaderboard_refresh_task.apply(args=(arena_id,), throw=True)
    elif settings.ARENA_EMBEDDED_TASKS:
        from arena.battles.dispatch import run_in_thread

        timer = threading.Timer(countdown, run_in_thread, args=(leaderboard_refresh_task, arena_id))
        timer.daemon = True
        timer.start()
    else:
        leaderboard_refresh_task.apply_async(args=(arena_id,), countdown=countdown)
