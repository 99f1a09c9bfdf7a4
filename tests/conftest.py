"""Shared fixtures: the demo arena, a voter's API client, inline generation for unit tests."""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis
from django.test import Client


@pytest.fixture(autouse=True)
def _isolated_media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ARENA_TASKS_INLINE = True
    settings.ARENA_MIN_VOTE_SECONDS = 0.0  # tests vote at once; the rule has its own tests
    settings.ARENA_POW_BITS = 0  # proof of work has its own tests (tests/arena/test_pow.py)
    # instant battles have their own tests (tests/arena/test_instant_battles.py)
    settings.ARENA_INSTANT_BATTLES = False
    for name in (
        "BATTLES_PER_VOTER",
        "BATTLES_PER_ADDRESS",
        "VOTES_PER_VOTER",
        "VOTES_PER_ADDRESS",
    ):
        setattr(settings, f"ARENA_RATE_{name}", 0)  # rate limits have their own tests
    # Fixed windows: a test's few requests must not straddle a window's end (with 60 s
    # windows, about one run in fifty of a one-second test saw its counts reset midway).
    settings.ARENA_RATE_WINDOW_S = 86_400
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    from arena.leaderboards import services as leaderboard_services

    cache.clear()  # rate-limit windows must not leak between tests
    leaderboard_services._covered_until.clear()  # nor what a process knew of a due refresh


@pytest.fixture
def demo_arena(db: None) -> Any:
    from arena.battles.demo_data import demo_load

    return demo_load()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


class VoterClient:
    """A browser-like API client: session cookie, CSRF token in the header."""

    def __init__(self) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.client.get("/api/arenas")

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"X-CSRFToken": self.client.cookies["csrftoken"].value}
        headers.update(extra or {})
        return headers

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post(
        self,
        path: str,
        data: Any = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        import json

        body = raw if raw is not None else json.dumps(data if data is not None else {})
        return self.client.post(
            path, body, content_type="application/json", headers=self._headers(headers)
        )


@pytest.fixture
def voter(db: None) -> VoterClient:
    return VoterClient()


@pytest.fixture
def make_voter(db: None) -> Callable[[], VoterClient]:
    return VoterClient


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Iterator[Callable[..., Any]]:
    """Run code and then its on-commit work (generation, pushes), as a real commit would."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    yield run


# --- The machine's real services, for live tests --------------------------------------------
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
    url = os.environ.get("ARENA_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.figures import RECORDED

    if RECORDED:
        terminalreporter.section("figures")
        for name, figures in RECORDED.items():
            terminalreporter.write_line(f"{name}: {json.dumps(figures)}")


@pytest.fixture
def instant_on(settings: Any) -> None:
    """Instant battles on (the suite runs with ARENA_INSTANT_BATTLES off, see above)."""
    settings.ARENA_INSTANT_BATTLES = True
