"""Fixtures for the provider tests: fake servers on 127.0.0.1, fast configs, real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from generators import concurrency
from tests.fakes import FakeProviderServer, ProviderFake

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def _process_local_caps() -> Iterator[None]:
    """Tests use process-local caps unless they opt into Redis explicitly."""
    saved = concurrency.redis_url()
    concurrency.configure(None)
    yield
    concurrency.configure(saved)


@pytest.fixture
def serve() -> Iterator[Callable[[ProviderFake], FakeProviderServer]]:
    """Start fakes for this test; all are stopped at teardown."""
    servers: list[FakeProviderServer] = []

    def _serve(fake: ProviderFake) -> FakeProviderServer:
        server = FakeProviderServer(fake).start()
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        server.stop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis (DB 15); skips when no server answers."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    yield REDIS_URL
    for key in client.scan_iter(match=concurrency.KEY_PREFIX + "test-*"):
        client.delete(key)
    client.close()


@pytest.fixture
def slot_name() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"
