"""Fixtures that start real arenas: on PostgreSQL + Redis + Celery, and embedded on SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.live import LiveArena

PG_ADMIN = os.environ.get("ARENA_TEST_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres")


def _need(service: str, check: object) -> None:
    try:
        check()  # type: ignore[operator]
    except Exception as exc:
        message = f"{service} is not reachable ({exc}); start it (see scripts/services.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("ARENA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    _need("Redis", lambda: redis.Redis.from_url(url).flushdb())
    return url


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    name = f"arena_live_{uuid.uuid4().hex[:8]}"
    _need("PostgreSQL", lambda: psycopg.connect(PG_ADMIN, connect_timeout=3).close())
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def live_pg_redis(tmp_path_factory: pytest.TempPathFactory, postgres_database: str,
                  redis_url: str) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-pg"), database_url=postgres_database,
                      redis_url=redis_url, provider_options={"delay_s": 1.0})
    try:
        yield arena.start()
    finally:
        arena.stop()


@pytest.fixture(scope="session")
def live_embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-embedded"),
                      provider_options={"delay_s": 0.5})
    try:
        yield arena.start()
    finally:
        arena.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
