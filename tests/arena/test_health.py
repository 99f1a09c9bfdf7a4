"""/livez and /healthz: the embedded default is healthy on its own; with Redis, workers prove
they are alive by heartbeats and queues are read with the broker's key prefix (real Redis)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import redis

from arena.ops import health


def test_livez_answers_without_touching_the_database(client: Any) -> None:
    answer = client.get("/livez")  # no `db` fixture: any query would raise
    assert answer.status_code == 200 and answer.content == b"ok\n"


def test_embedded_default_is_healthy_and_says_which_parts_are_embedded(
    db: None, client: Any
) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert {body["checks"][part]["status"] for part in ("cache", "workers", "queues")} == {
        "embedded"
    }
    assert "no-store" in answer["Cache-Control"]


@pytest.fixture
def broker_mode(settings: Any, redis_url: str) -> redis.Redis:
    """Settings as with REDIS_URL set (the cache stays local: only the Celery parts differ)."""
    prefix = f"test-health-{uuid.uuid4().hex[:8]}"
    settings.REDIS_URL = redis_url
    settings.CELERY_BROKER_URL = redis_url
    settings.ARENA_EMBEDDED_TASKS = False
    settings.REDIS_KEY_PREFIX = prefix
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": f"{prefix}:celery:",
    }
    settings.ARENA_HEARTBEAT_STALE_S = 30.0
    client = redis.Redis.from_url(redis_url)
    yield client
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def report() -> tuple[bool, dict[str, Any]]:
    return health.health_report()


def test_no_worker_heartbeat_is_down_and_a_fresh_one_is_up(
    db: None, broker_mode: redis.Redis
) -> None:
    healthy, body = report()
    assert not healthy and body["checks"]["workers"]["status"] == "down"
    assert "default" in body["checks"]["workers"]["error"]
    health.heartbeat_write(hostname="w1@test", queues=["default", "remote"])
    healthy, body = report()
    assert healthy, body
    assert body["checks"]["workers"]["live"] == {"default": 1, "remote": 1, "gpu": 0}


def test_a_stale_heartbeat_counts_as_a_dead_worker(db: None, broker_mode: redis.Redis) -> None:
    entry = json.dumps({"at": time.time() - 120, "queues": ["default"]})
    broker_mode.hset(health.heartbeat_key(), "old@test", entry)
    healthy, body = report()
    assert not healthy
    assert body["checks"]["workers"]["live"]["default"] == 0
    assert body["checks"]["workers"]["last_heartbeat_s"] >= 119


def test_queue_depth_is_read_with_the_broker_prefix_and_priorities(
    db: None, broker_mode: redis.Redis, settings: Any
) -> None:
    health.heartbeat_write(hostname="w1@test", queues=["default", "remote"])
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    broker_mode.rpush(f"{prefix}default", "a", "b")
    broker_mode.rpush(f"{prefix}default\x06\x163", "c")  # kombu's priority-3 list
    healthy, body = report()
    assert healthy, body
    assert body["checks"]["queues"]["depth"] == {"default": 3, "remote": 0, "gpu": 0}
    assert health.queue_depths() == {"default": 3, "remote": 0, "gpu": 0}


def test_tasks_waiting_on_a_queue_nobody_consumes_are_reported(
    db: None, broker_mode: redis.Redis, settings: Any
) -> None:
    health.heartbeat_write(hostname="w1@test", queues=["default", "remote"])
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    broker_mode.rpush(f"{prefix}gpu", "job")
    healthy, body = report()
    assert not healthy
    assert body["checks"]["queues"]["status"] == "down"
    assert "gpu" in body["checks"]["queues"]["error"]


def test_heartbeat_thread_writes_and_clears_its_entry(
    db: None, broker_mode: redis.Redis, settings: Any
) -> None:
    settings.ARENA_HEARTBEAT_S = 0.1
    stop = health.worker_heartbeat_start(hostname="t@test", queues=["default"])
    deadline = time.monotonic() + 5
    while not broker_mode.hexists(health.heartbeat_key(), "t@test"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stop.set()
    while broker_mode.hexists(health.heartbeat_key(), "t@test"):
        assert time.monotonic() < deadline, "the entry of a stopped worker was not removed"
        time.sleep(0.05)


def test_an_unreachable_redis_is_down_quickly_without_raising(
    db: None, settings: Any, client: Any
) -> None:
    from tests.live import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    settings.ARENA_EMBEDDED_TASKS = False
    started = time.monotonic()
    answer = client.get("/healthz")
    assert time.monotonic() - started < 5
    assert answer.status_code == 503
    body = answer.json()
    assert body["checks"]["workers"]["status"] == "down"
    assert body["checks"]["queues"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
