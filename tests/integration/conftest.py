"""Fixtures that start real arenas: on PostgreSQL + Redis + Celery, and embedded on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveArena


@pytest.fixture(scope="session")
def live_pg_redis(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: str, redis_url: str
) -> Iterator[LiveArena]:
    arena = LiveArena(
        tmp_path_factory.mktemp("live-pg"),
        database_url=postgres_database,
        redis_url=redis_url,
        provider_options={"delay_s": 1.0},
    )
    try:
        yield arena.start()
    finally:
        arena.stop()


@pytest.fixture(scope="session")
def live_embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-embedded"), provider_options={"delay_s": 0.5})
    try:
        yield arena.start()
    finally:
        arena.stop()
