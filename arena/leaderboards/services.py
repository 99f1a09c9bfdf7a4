"""Recomputing leaderboards: debounced after votes, computed in a task, stored as snapshots.

Pages and the API only read snapshots; the maths runs in `ratings` (pure numpy/scipy) on
aggregates the database computes (see `arena.leaderboards.refresh`).
"""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.core.cache import cache

from arena.battles.models import Arena
from arena.leaderboards.locks import refresh_lock
from arena.leaderboards.models import LeaderboardSnapshot
from arena.leaderboards.refresh import leaderboard_compute
from arena.votes.models import OUTCOME_OF_CHOICE
from ratings.outcomes import WINNER_STRINGS, Winner

__all__ = [
    "WINNER_OF_CHOICE",
    "leaderboard_compute",
    "leaderboard_refresh",
    "leaderboard_refresh_request",
    "snapshots_prune",
]

WINNER_OF_CHOICE = {
    choice: WINNER_STRINGS[Winner(code)] for choice, code in OUTCOME_OF_CHOICE.items()
}
"""A vote's choice as the LMSYS winner string (the export's and the oracle's spelling)."""

logger = logging.getLogger(__name__)


def _due_key(arena_id: int) -> str:
    return f"lb-due:{arena_id}"


def leaderboard_refresh_request(*, arena_id: int) -> None:
    """Ask for a recompute soon. A burst of votes schedules one recompute, not one per vote."""
    from arena.leaderboards.dispatch import refresh_schedule

    try:
        if not cache.add(_due_key(arena_id), 1, timeout=settings.ARENA_LEADERBOARD_DEBOUNCE_S * 30):
            return  # one is already scheduled and has not started yet
        refresh_schedule(arena_id=arena_id, countdown=settings.ARENA_LEADERBOARD_DEBOUNCE_S)
    except Exception as exc:  # Redis or the broker is down: the periodic refresh catches up
        logger.warning("could not schedule a leaderboard refresh for %s: %s", arena_id, exc)


def leaderboard_refresh(*, arena_id: int) -> bool:
    """Recompute every board of the arena unless another recompute is in flight.

    Returns False when it could not take the arena's lock (the caller retries later). The
    lock lasts exactly as long as the recompute (see `arena.leaderboards.locks`).
    """
    with refresh_lock(arena_id) as held:
        if not held:
            return False
        cache.delete(_due_key(arena_id))  # votes from now on schedule the next run
        arena = Arena.objects.get(pk=arena_id)
        leaderboard_compute(arena=arena)
    return True


def snapshots_prune(*, arena: Arena) -> None:
    """Keep the newest snapshots per board and one per day before that (for the history)."""
    keep = settings.ARENA_SNAPSHOTS_KEEP
    for category in (
        LeaderboardSnapshot.objects.filter(arena=arena)
        .order_by()
        .values_list("category", flat=True)
        .distinct()
    ):
        old = list(
            LeaderboardSnapshot.objects.filter(arena=arena, category=category)
            .order_by("-computed_at")
            .values_list("pk", "computed_at")[keep:]
        )
        seen_days: set[date] = set()
        doomed = []
        for pk, at in old:
            day = at.date()
            if day in seen_days:
                doomed.append(pk)
            else:
                seen_days.add(day)
        LeaderboardSnapshot.objects.filter(pk__in=doomed).delete()
