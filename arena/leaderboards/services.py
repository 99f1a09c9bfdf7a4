"""Recomputing leaderboards: debounced after votes, computed in a task, stored as snapshots.

Pages and the API only read snapshots; the maths runs in `ratings` (pure numpy/scipy) on
aggregates the database computes (see `arena.leaderboards.refresh`).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

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


# Per arena, until when (time.monotonic(): a step of this host's wall clock changes nothing)
# a recompute known to be scheduled, and not to start before then, will include a vote
# committed now: this process asks Redis nothing before.
_covered_until: dict[int, float] = {}
# How much earlier than the stored start this process stops relying on it: the recompute's
# countdown is measured on the clock of the host that scheduled it, and runs by the worker's.
CLOCK_MARGIN_S = 0.25
# Per arena, how many recomputes this process has started. A request relies on the start it
# learnt only if none started here meanwhile (one run at once by inline tasks, or by another
# thread, already took its snapshot: it covers no vote after it); checked and set together.
_started_here: dict[int, int] = {}
_covered_lock = threading.Lock()


def _clocks() -> tuple[float, float]:
    """Now by the wall clock (to compare with starts stored by other hosts) and by this
    process's monotonic clock (to keep)."""
    return time.time(), time.monotonic()


def _due_claim(arena_id: int, due_ms: int, timeout_s: int) -> int | None:
    """Store when the arena's next recompute starts (ms), unless one is stored: None when
    this call stored it, else the time stored before (0 when unknown)."""
    key = _due_key(arena_id)
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        try:  # one round trip: SET NX GET (Redis 7)
            client = backend._cache.get_client(None, write=True)
            old = client.set(
                backend.make_and_validate_key(key), due_ms, nx=True, ex=timeout_s, get=True
            )
        except Exception as exc:
            if "syntax" not in str(exc).lower():  # an older Redis: NX with GET is 7.0's
                raise
        else:
            return None if old is None else _as_ms(old)
    if cache.add(key, due_ms, timeout=timeout_s):
        return None
    return _as_ms(cache.get(key))


def _as_ms(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0  # expired meanwhile, or an older format: nothing known


def leaderboard_refresh_request(*, arena_id: int) -> None:
    """Ask for a recompute soon. A burst of votes schedules one recompute, not one per vote.

    The first request stores when that recompute may start (its countdown) and schedules
    it; until shortly before then, every vote is included in it, so a process that has
    learnt that time asks Redis nothing more (issue 10: one round trip per vote was ~6 % of
    a vote's web CPU). The margin (at most half the debounce) covers clocks of different
    hosts."""
    from arena.leaderboards.dispatch import refresh_schedule

    now, local = _clocks()
    if local < _covered_until.get(arena_id, float("-inf")):
        return
    debounce = float(settings.ARENA_LEADERBOARD_DEBOUNCE_S)
    started = _started_here.get(arena_id, 0)
    try:
        starts_ms = round((now + debounce) * 1000)
        before = _due_claim(arena_id, starts_ms, max(1, round(debounce * 30)))
        if before is None:
            refresh_schedule(arena_id=arena_id, countdown=debounce)
        else:
            starts_ms = before  # one is already scheduled and has not started yet
        with _covered_lock:
            if _started_here.get(arena_id, 0) == started:
                covered_s = starts_ms / 1000 - min(debounce / 2, CLOCK_MARGIN_S) - now
                _covered_until[arena_id] = local + covered_s
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
        with _covered_lock:
            _started_here[arena_id] = _started_here.get(arena_id, 0) + 1
            _covered_until.pop(arena_id, None)
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
