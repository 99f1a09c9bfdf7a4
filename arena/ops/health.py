"""Health of the parts a deployment needs: database, cache, Celery workers, queues.

Cheap and bounded: every check runs in a small shared thread pool under one deadline
(ARENA_HEALTH_TIMEOUT_S), Redis is read with short socket timeouts in one pipelined round trip,
and a failure is reported by part and exception class, never raised. In the embedded default
(no Redis, no broker) the cache, workers and queues are the web process itself: "embedded".

Workers prove they are alive through a heartbeat (`worker_heartbeat_start`, started by
arena/celery.py when a worker is ready): every ARENA_HEARTBEAT_S seconds each worker writes
the time and its queues into one Redis hash; an entry older than ARENA_HEARTBEAT_STALE_S is dead.
Workers are down when a queue of ARENA_HEALTH_REQUIRED_QUEUES (default: `default`, which
carries leaderboards and the sweeper) has no live worker; queues are down when tasks wait on a
queue that no live worker consumes (e.g. `gpu` work with no GPU worker).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connections

logger = logging.getLogger(__name__)

QUEUES = ("default", "remote", "gpu")
# kombu's Redis transport keeps one list per priority step: "q", "q\x06\x163", ...
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
OK, DOWN, EMBEDDED = "ok", "down", "embedded"

_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _redis(url: str) -> redis.Redis:
    """One client per URL and process, with timeouts short enough for a health probe."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            timeout = settings.ARENA_HEALTH_TIMEOUT_S
            client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            _clients[url] = client
        return client


def heartbeat_key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:health:workers"


def _queue_keys(queue: str) -> list[str]:
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    return [
        f"{prefix}{queue}" if step == 0 else f"{prefix}{queue}{PRIORITY_SEP}{step}"
        for step in PRIORITY_STEPS
    ]


def _broker_is_redis() -> bool:
    url = settings.CELERY_BROKER_URL or ""
    return url.startswith(("redis://", "rediss://", "unix://"))


# --- Heartbeats (written by workers) ----------------------------------------------------------
def heartbeat_write(*, hostname: str, queues: list[str]) -> None:
    client = _redis(settings.REDIS_URL)
    entry = json.dumps({"at": time.time(), "queues": sorted(queues)})
    with client.pipeline(transaction=False) as pipe:
        pipe.hset(heartbeat_key(), hostname, entry)
        pipe.expire(heartbeat_key(), 86400)
        pipe.execute()


def heartbeat_clear(*, hostname: str) -> None:
    _redis(settings.REDIS_URL).hdel(heartbeat_key(), hostname)


def worker_heartbeat_start(*, hostname: str, queues: list[str]) -> threading.Event:
    """Write this worker's heartbeat now and every ARENA_HEARTBEAT_S seconds in a daemon
    thread; set the returned event to stop (the entry is then removed)."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                heartbeat_write(hostname=hostname, queues=queues)
            except Exception as exc:  # Redis down: keep trying, the health check says so
                logger.warning("worker heartbeat not written: %s", exc)
            if stop.wait(settings.ARENA_HEARTBEAT_S):
                break
        try:
            heartbeat_clear(hostname=hostname)
        except Exception as exc:
            logger.warning("worker heartbeat not cleared: %s", exc)

    threading.Thread(target=beat, name="heartbeat", daemon=True).start()
    return stop


# --- Reading -----------------------------------------------------------------------------------
def _heartbeats(client: redis.Redis) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    # redis-py types the sync and the asyncio client alike (a result or an awaitable); sync here
    for host, raw in client.hgetall(heartbeat_key()).items():  # type: ignore[union-attr]
        try:
            entry = json.loads(raw)
            found[host.decode()] = {"at": float(entry["at"]), "queues": list(entry["queues"])}
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _live_per_queue(beats: dict[str, dict[str, Any]], now: float) -> dict[str, int]:
    stale = settings.ARENA_HEARTBEAT_STALE_S
    live = dict.fromkeys(QUEUES, 0)
    for entry in beats.values():
        if now - entry["at"] <= stale:
            for queue in entry["queues"]:
                live[queue] = live.get(queue, 0) + 1
    return live


def queue_depths() -> dict[str, int] | None:
    """Tasks waiting per queue, or None when there is no Redis broker (or it cannot be read)."""
    if not _broker_is_redis():
        return None
    try:
        with _redis(settings.CELERY_BROKER_URL).pipeline(transaction=False) as pipe:
            for queue in QUEUES:
                for key in _queue_keys(queue):
                    pipe.llen(key)
            counts = pipe.execute()
    except Exception:
        return None
    steps = len(PRIORITY_STEPS)
    return {queue: int(sum(counts[i * steps : (i + 1) * steps])) for i, queue in enumerate(QUEUES)}


def workers_live() -> dict[str, int] | None:
    """Workers with a fresh heartbeat per queue, or None without Redis (or when unreadable)."""
    if not settings.REDIS_URL or settings.ARENA_EMBEDDED_TASKS:
        return None
    try:
        return _live_per_queue(_heartbeats(_redis(settings.REDIS_URL)), time.time())
    except Exception:
        return None


def _check_database() -> dict[str, Any]:
    connection = connections["default"]
    pool = getattr(connection, "pool", None)
    if pool is not None:
        pool.open()
        with pool.connection(timeout=settings.ARENA_HEALTH_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    else:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connection.close()
    return {"status": OK, "vendor": connection.vendor}


def _check_cache() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {"status": EMBEDDED}
    key = f"health:{socket.gethostname()}"
    cache.set(key, 1, timeout=30)
    if cache.get(key) != 1:
        return {"status": DOWN, "error": "the cache did not return what was written"}
    return {"status": OK}


def _check_workers_and_queues() -> dict[str, dict[str, Any]]:
    if settings.ARENA_EMBEDDED_TASKS:
        return {"workers": {"status": EMBEDDED}, "queues": {"status": EMBEDDED}}
    client = _redis(settings.REDIS_URL)
    beats = _heartbeats(client)
    now = time.time()
    live = _live_per_queue(beats, now)
    missing = [q for q in settings.ARENA_HEALTH_REQUIRED_QUEUES if not live.get(q)]
    workers: dict[str, Any] = {"status": DOWN if missing else OK, "live": live}
    if beats:
        workers["last_heartbeat_s"] = round(now - max(e["at"] for e in beats.values()), 1)
    if missing:
        workers["error"] = (
            "no Celery worker consuming " + ", ".join(missing) + " has written a heartbeat recently"
        )
    depths = queue_depths()
    if depths is None:
        return {
            "workers": workers,
            "queues": {
                "status": DOWN if _broker_is_redis() else "unknown",
                "error": "the broker's queues could not be read",
            },
        }
    stuck = [q for q, n in depths.items() if n and not live.get(q)]
    queues: dict[str, Any] = {"status": DOWN if stuck else OK, "depth": depths}
    if stuck:
        queues["error"] = "tasks are waiting on a queue no live worker consumes: " + ", ".join(
            stuck
        )
    return {"workers": workers, "queues": queues}


def _timed(check: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        started = time.perf_counter()
        try:
            result = check()
        except Exception as exc:
            result = {"status": DOWN, "error": type(exc).__name__}
        result.setdefault("ms", round((time.perf_counter() - started) * 1000, 1))
        return result

    return run


def health_report() -> tuple[bool, dict[str, Any]]:
    """(healthy, report): every part's status; healthy when none is down."""
    deadline = time.monotonic() + settings.ARENA_HEALTH_TIMEOUT_S + 0.5
    futures = {
        "database": _executor.submit(_timed(_check_database)),
        "cache": _executor.submit(_timed(_check_cache)),
        "celery": _executor.submit(_timed(_check_workers_and_queues)),
    }
    checks: dict[str, Any] = {}
    for name, future in futures.items():
        try:
            result = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            result = {"status": DOWN, "error": "timed out"}
        if name == "celery":
            if result.get("status") == DOWN and "workers" not in result:
                result = {"workers": result, "queues": result}
            checks.update({k: v for k, v in result.items() if k in ("workers", "queues")})
        else:
            checks[name] = result
    healthy = all(part.get("status") != DOWN for part in checks.values())
    return healthy, {"status": OK if healthy else DOWN, "checks": checks}
