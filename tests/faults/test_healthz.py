"""/healthz on real processes against PRIVATE PostgreSQL and Redis servers: it goes 503 (fast,
saying which part is down) when either is stopped, and back to 200 once it is restarted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.faults.private_services import PrivatePostgres, PrivateRedis
from tests.live import LiveArena

pytestmark = pytest.mark.services


def healthz(arena: LiveArena) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    answer = requests.get(arena.base + "/healthz", timeout=15)
    return answer.status_code, answer.json(), time.monotonic() - started


def wait_for(arena: LiveArena, code: int, timeout: float = 45) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, body, _ = healthz(arena)
        if status == code:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz stayed {status}: {body}\n{arena.logs()}")
        time.sleep(0.5)


def test_healthz_goes_503_when_postgres_or_redis_stops_and_recovers(
    tmp_path: Path, private_postgres: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    arena = LiveArena(
        tmp_path,
        database_url=private_postgres.url,
        redis_url=private_redis.url,
        extra_env={
            "ARENA_HEARTBEAT_S": "1",
            "ARENA_HEARTBEAT_STALE_S": "10",
            "ARENA_HEALTH_TIMEOUT_S": "1.5",
        },
    )
    arena.start()
    try:
        body = wait_for(arena, 200)
        assert body["checks"]["workers"]["live"]["default"] == 1

        private_postgres.stop()
        status, body, took = healthz(arena)
        assert status == 503, body
        assert body["checks"]["database"]["status"] == "down"
        assert body["checks"]["cache"]["status"] == "ok"  # only the broken part is down
        assert took < 5
        private_postgres.start()
        body = wait_for(arena, 200)
        assert body["checks"]["database"]["status"] == "ok"

        private_redis.stop()
        status, body, took = healthz(arena)
        assert status == 503, body
        assert body["checks"]["cache"]["status"] == "down"
        assert body["checks"]["workers"]["status"] == "down"
        assert body["checks"]["database"]["status"] == "ok"
        assert took < 5
        private_redis.start()
        body = wait_for(arena, 200)  # the worker's heartbeat resumes on the new server
        assert body["checks"]["workers"]["live"]["default"] == 1
    finally:
        arena.stop()
