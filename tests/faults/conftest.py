"""Fault-test fixtures: private services that the tests may stop and restart."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.private_services import PrivatePostgres, PrivateRedis


def _require(binary: str) -> None:
    if shutil.which(binary) or Path("/usr/lib/postgresql").exists():
        return
    message = f"{binary} is not installed (scripts/services.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    _require("redis-server")
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    _require("initdb")
    # Not under pytest's tmp dir: the postgres user must be able to reach the data directory.
    directory = Path(tempfile.mkdtemp(prefix="arena-pg-"))
    server = PrivatePostgres(directory).init()
    try:
        yield server
    finally:
        with contextlib.suppress(RuntimeError):
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
