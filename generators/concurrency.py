"""Per-provider concurrency caps shared by every worker process.

Providers limit concurrent jobs per account (BFL: 24 active tasks, …). With a Redis URL the
cap is a Redis counting semaphore shared by all workers; each slot is a member of a sorted set
scored by its lease expiry, so a worker killed mid-generation frees its slot when the lease
runs out. Without Redis, a process-local threading semaphore caps this process only.

Configure once per worker process with `configure(redis_url)` (or env GENERATORS_REDIS_URL).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from generators.base import RateLimited

log = logging.getLogger(__name__)

KEY_PREFIX = "arena:gen:slots:"
LEASE_MARGIN_S = 30.0

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  local lease = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
  if redis.call('PTTL', KEYS[1]) < lease then
    redis.call('PEXPIRE', KEYS[1], lease + 1000)
  end
  return 1
end
return 0
"""

_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local n = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease + 1000)
end
return n
"""

_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


class Semaphore(Protocol):
    """Counting semaphore whose slots are identified by a token."""

    limit: int

    def try_acquire(self, lease_s: float) -> str | None: ...

    def release(self, token: str) -> None: ...

    def in_use(self) -> int: ...


class _RedisClient(Protocol):
    """The part of ``redis.Redis`` the semaphore uses."""

    def register_script(self, script: str) -> Callable[..., Any]: ...

    def zrem(self, name: str, *values: str) -> Any: ...


class RedisSemaphore:
    """Counting semaphore in a Redis sorted set (member = token, score = lease expiry in ms)."""

    def __init__(self, client: _RedisClient, name: str, limit: int) -> None:
        self.client = client
        self.key = KEY_PREFIX + name
        self.limit = limit
        self._acquire = client.register_script(_ACQUIRE)
        self._refresh = client.register_script(_REFRESH)
        self._count = client.register_script(_COUNT)

    def try_acquire(self, lease_s: float) -> str | None:
        token = uuid.uuid4().hex
        got = self._acquire(keys=[self.key], args=[self.limit, int(lease_s * 1000), token])
        return token if int(got) == 1 else None

    def refresh(self, token: str, lease_s: float) -> bool:
        """Extend a held slot's lease (for holders that outlive their first estimate)."""
        return int(self._refresh(keys=[self.key], args=[int(lease_s * 1000), token])) == 1

    def release(self, token: str) -> None:
        self.client.zrem(self.key, token)

    def in_use(self) -> int:
        return int(self._count(keys=[self.key]))


class LocalSemaphore:
    """Process-local fallback: caps the threads of this one process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def try_acquire(self, lease_s: float) -> str | None:
        if not self._sem.acquire(blocking=False):
            return None
        token = uuid.uuid4().hex
        with self._lock:
            self._held.add(token)
        return token

    def release(self, token: str) -> None:
        with self._lock:
            if token not in self._held:
                return
            self._held.discard(token)
        self._sem.release()

    def in_use(self) -> int:
        with self._lock:
            return len(self._held)


_lock = threading.Lock()
_redis_url: str | None = os.environ.get("GENERATORS_REDIS_URL") or None
_clients: dict[str, _RedisClient] = {}
_local: dict[tuple[str, int], LocalSemaphore] = {}


def configure(redis_url: str | None) -> None:
    """Share caps across workers through this Redis (None: process-local caps only)."""
    global _redis_url
    with _lock:
        _redis_url = redis_url or None


def redis_url() -> str | None:
    return _redis_url


def _redis_client(url: str) -> _RedisClient:
    with _lock:
        client = _clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
            _clients[url] = client
        return client


def semaphore_for(name: str, limit: int, *, url: str | None = None) -> Semaphore:
    """The shared semaphore for `name` (Redis when configured, else process-local)."""
    url = url if url is not None else _redis_url
    if url:
        return RedisSemaphore(_redis_client(url), name, limit)
    with _lock:
        sem = _local.get((name, limit))
        if sem is None:
            sem = _local[(name, limit)] = LocalSemaphore(limit)
        return sem


@contextmanager
def slot(
    name: str,
    limit: int,
    *,
    timeout_s: float,
    lease_s: float,
    url: str | None = None,
) -> Iterator[None]:
    """Hold one of `limit` slots for `name` for the duration of the block.

    Waits up to `timeout_s` (callers bound it by the output's deadline) and raises RateLimited
    when no slot frees up, so the arena retries later rather than overloading the provider.
    `limit <= 0` means uncapped. If Redis is unreachable the cap falls back to this process.
    """
    if limit <= 0:
        yield
        return
    sem = semaphore_for(name, limit, url=url)
    try:
        token = _wait_for_slot(sem, timeout_s, lease_s)
    except RateLimited:
        raise
    except Exception as exc:  # redis down: degrade to a per-process cap rather than fail
        if isinstance(sem, LocalSemaphore):
            raise
        log.warning("concurrency: Redis unavailable (%s); using a process-local cap", exc)
        sem = semaphore_for(name, limit, url="")
        token = _wait_for_slot(sem, timeout_s, lease_s)
    try:
        yield
    finally:
        try:
            sem.release(token)
        except Exception as exc:  # the lease expiry frees it anyway
            log.warning("concurrency: could not release slot for %s: %s", name, exc)


def _wait_for_slot(sem: Semaphore, timeout_s: float, lease_s: float) -> str:
    ends = time.monotonic() + max(0.0, timeout_s)
    delay = 0.02
    while True:
        token = sem.try_acquire(lease_s)
        if token is not None:
            return token
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise RateLimited(
                f"all {sem.limit} concurrent slots busy for {timeout_s:.3g}s",
                retry_after=max(1.0, min(30.0, timeout_s)),
            )
        time.sleep(min(delay, remaining))
        delay = min(0.5, delay * 1.5)
