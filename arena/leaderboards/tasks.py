"""Leaderboard tasks: at most one recompute in flight per arena."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from arena.battles.models import Arena
from arena.leaderboards import services
from arena.leaderboards.dispatch import refresh_schedule


@shared_task(bind=True, max_retries=None, name="arena.leaderboards.tasks.leaderboard_refresh_task")
def leaderboard_refresh_task(self: Any, arena_id: int) -> None:
    if services.leaderboard_refresh(arena_id=arena_id):
        return
    # Another recompute is running: try again after it, so no vote is left out.
    if not self.request.is_eager:
        raise self.retry(countdown=2)
    if not settings.ARENA_TASKS_INLINE:
        refresh_schedule(arena_id=arena_id, countdown=2.0)


@shared_task(name="arena.leaderboards.tasks.leaderboards_refresh_all_task")
def leaderboards_refresh_all_task() -> None:
    """Safety net for refresh requests lost while Redis or the broker was down."""
    for arena_id in Arena.objects.filter(is_active=True).values_list("pk", flat=True):
        services.leaderboard_refresh_request(arena_id=arena_id)
