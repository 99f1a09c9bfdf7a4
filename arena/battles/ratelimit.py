"""Fixed-window rate limits through Django's cache (Redis in production, shared by all web
processes). A broken cache lets requests through: votes must not depend on Redis."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

from arena.battles.errors import ArenaError

logger = logging.getLogger(__name__)


class RateLimited(ArenaError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def rate_limit_hit(*, scope: str, key: str, limit: int, window_s: int, what: str) -> None:
    """Count one hit; raise `RateLimited` when `key` passed `limit` hits in this window."""
    if limit <= 0 or not key:
        return
    window = int(time.time() // window_s)
    cache_key = f"rl:{scope}:{key}:{window}"
    try:
        cache.add(cache_key, 0, timeout=window_s + 5)
        count = cache.incr(cache_key)
    except Exception as exc:
        logger.warning("rate limiter unavailable (%s); letting %s through", exc, scope)
        return
    if count > limit:
        retry_after = max(1, int((window + 1) * window_s - time.time()) + 1)
        raise RateLimited(
            f"Too many {what}: at most {limit} per {window_s} seconds. "
            f"Please wait {retry_after} s and try again.",
            retry_after=retry_after,
        )
