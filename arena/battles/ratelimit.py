"""Fixed-window rate limits through Django's cache (Redis in production, shared by all web
processes). A broken cache lets requests through: votes must not depend on Redis.

With Redis, every limit of one request is counted in one pipelined round trip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache

from arena.battles.errors import ArenaError, ErrorCode

logger = logging.getLogger(__name__)


class RateLimited(ArenaError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per `window_s` seconds for `key` in `scope` (0 or no key: off)."""

    scope: str
    key: str
    limit: int
    window_s: int
    what: str


def _counts_redis(cache: RedisCache, keys: list[tuple[str, int]]) -> list[int]:
    """INCR + EXPIRE of every key in one round trip (no MULTI: each pair is independent)."""
    client = cache._cache.get_client(None, write=True)
    pipe = client.pipeline(transaction=False)
    for key, ttl in keys:
        full = cache.make_and_validate_key(key)
        pipe.incr(full)
        pipe.expire(full, ttl)
    replies = pipe.execute()
    return [int(n) for n in replies[0::2]]


def _counts_generic(cache: BaseCache, keys: list[tuple[str, int]]) -> list[int]:
    counts = []
    for key, ttl in keys:
        cache.add(key, 0, timeout=ttl)
        counts.append(int(cache.incr(key)))
    return counts


def rate_limits_hit(limits: Sequence[Limit]) -> None:
    """Count one hit on every active limit; raise `RateLimited` for the first one exceeded.

    Every hit is counted even when one limit is exceeded, as the separate calls did before.
    """
    active = [lim for lim in limits if lim.limit > 0 and lim.key]
    if not active:
        return
    now = time.time()
    windows = [int(now // lim.window_s) for lim in active]
    keys = [
        (f"rl:{lim.scope}:{lim.key}:{window}", lim.window_s + 5)
        for lim, window in zip(active, windows, strict=True)
    ]
    cache = caches["default"]
    try:
        counts = (
            _counts_redis(cache, keys)
            if isinstance(cache, RedisCache)
            else _counts_generic(cache, keys)
        )
    except Exception as exc:
        logger.warning(
            "rate limiter unavailable (%s); letting %s through",
            exc,
            ", ".join(lim.scope for lim in active),
        )
        return
    for lim, window, count in zip(active, windows, counts, strict=True):
        if count > lim.limit:
            retry_after = max(1, int((window + 1) * lim.window_s - time.time()) + 1)
            raise RateLimited(
                f"Too many {lim.what}: at most {lim.limit} per {lim.window_s} seconds. "
                f"Please wait {retry_after} s and try again.",
                retry_after=retry_after,
            )


def rate_limit_hit(*, scope: str, key: str, limit: int, window_s: int, what: str) -> None:
    """Count one hit; raise `RateLimited` when `key` passed `limit` hits in this window."""
    rate_limits_hit([Limit(scope=scope, key=key, limit=limit, window_s=window_s, what=what)])


def creation_budget_spend(*, scope: str, voter_id: str, voter_address: str, what: str) -> None:
    """One hit on the budget for making something that costs generation or storage (battles,
    playground generations, uploads): ARENA_RATE_BATTLES_PER_VOTER per voter and
    ARENA_RATE_BATTLES_PER_ADDRESS per network in each ARENA_RATE_WINDOW_S, one round trip."""
    window = settings.ARENA_RATE_WINDOW_S
    rate_limits_hit(
        [
            Limit(
                scope=f"{scope}-voter",
                key=voter_id,
                limit=settings.ARENA_RATE_BATTLES_PER_VOTER,
                window_s=window,
                what=what,
            ),
            Limit(
                scope=f"{scope}-address",
                key=voter_address,
                limit=settings.ARENA_RATE_BATTLES_PER_ADDRESS,
                window_s=window,
                what=f"{what} from your network",
            ),
        ]
    )


def connection_acquire(*, key: str, limit: int, ttl_s: int) -> bool:
    """Count one open connection for `key`; False (nothing counted) when `limit` are open.

    The count expires `ttl_s` after the last connection opened, so a process that died
    without closing its sockets cannot hold an address's slots for ever. A broken cache lets
    the connection through, like the rate limits.
    """
    if limit <= 0:
        return True
    cache = caches["default"]
    cache_key = f"ws:{key}"
    try:
        count = (
            _counts_redis(cache, [(cache_key, ttl_s)])[0]
            if isinstance(cache, RedisCache)
            else _counts_generic(cache, [(cache_key, ttl_s)])[0]
        )
    except Exception as exc:
        logger.warning("connection counter unavailable (%s); letting a WebSocket in", exc)
        return True
    if count > limit:
        connection_release(key=key)
        return False
    return True


def connection_release(*, key: str) -> None:
    cache = caches["default"]
    cache_key = f"ws:{key}"
    try:
        if cache.decr(cache_key) <= 0:
            cache.delete(cache_key)
    except ValueError:  # expired meanwhile: nothing left to release
        pass
    except Exception as exc:
        logger.warning("connection counter unavailable (%s)", exc)
