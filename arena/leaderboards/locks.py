"""One leaderboard refresh at a time per arena, with a lock that cannot expire under a running
refresh.

PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) taken on a dedicated
connection held for the refresh's whole duration. It has no timeout: it is released when the
refresh ends and closes that connection, or when the process dies and the server drops the
session, never while the refresh still runs.

Other databases (the embedded SQLite default, one process): a process-local lock, plus a
cache key renewed by a heartbeat thread while the refresh runs, so that a second process
sharing the cache sees it too and a crashed process's key lapses within a minute.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import connection

LOCK_CLASS = 0x4C42  # "LB": the first key of the advisory lock; the arena id is the second
HEARTBEAT_TTL_S = 60

_local_locks: dict[int, threading.Lock] = {}
_local_guard = threading.Lock()


def _cache_key(arena_id: int) -> str:
    return f"lb-running:{arena_id}"


@contextmanager
def refresh_lock(arena_id: int) -> Iterator[bool]:
    """Yield True when this caller holds the arena's refresh lock (until the block ends),
    False when another refresh holds it."""
    if connection.vendor == "postgresql":
        with _advisory_lock(arena_id) as held:
            yield held
    else:
        with _local_lock(arena_id) as held:
            yield held


@contextmanager
def _advisory_lock(arena_id: int) -> Iterator[bool]:
    import psycopg

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    session = psycopg.connect(**params, autocommit=True)
    held = False
    try:
        row = session.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, int(arena_id))
        ).fetchone()
        held = bool(row and row[0])
        yield held
    finally:
        try:
            if held:  # at once: the server ends a closed session a moment after close()
                session.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, int(arena_id)))
        finally:
            session.close()  # ends the session: the server releases the lock in any case


@contextmanager
def _local_lock(arena_id: int) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault(arena_id, threading.Lock())
    if not lock.acquire(blocking=False):
        yield False
        return
    token = uuid.uuid4().hex
    stop = threading.Event()
    try:
        if not cache.add(_cache_key(arena_id), token, timeout=HEARTBEAT_TTL_S):
            yield False
            return

        def beat() -> None:
            while not stop.wait(HEARTBEAT_TTL_S / 3):
                cache.set(_cache_key(arena_id), token, timeout=HEARTBEAT_TTL_S)

        heart = threading.Thread(target=beat, name=f"lb-lock-{arena_id}", daemon=True)
        heart.start()
        try:
            yield True
        finally:
            stop.set()
            heart.join()
            if cache.get(_cache_key(arena_id)) == token:
                cache.delete(_cache_key(arena_id))
    finally:
        lock.release()
