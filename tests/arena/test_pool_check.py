"""The pool's checkout check (arena/postgresql/base.py) costs no round trip for a live idle
connection, and still catches one the server has closed (a restart, a terminated backend), so
the pool hands out a working connection instead."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import connection

from arena.postgresql.base import connection_alive

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the pool is PostgreSQL's"
)


def dsn() -> str:
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port", "password")}
    )


def test_a_live_idle_connection_is_checked_without_a_round_trip(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[object] = []
    with psycopg.connect(dsn(), autocommit=True) as conn:
        conn.execute("SELECT 1")
        original = psycopg.Connection.execute

        def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(args)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(psycopg.Connection, "execute", counting)
        connection_alive(conn)
    assert sent == []


def test_a_connection_the_server_closed_fails_the_check(db: None) -> None:
    with psycopg.connect(dsn(), autocommit=True) as conn, psycopg.connect(dsn()) as admin:
        pid = conn.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        admin.commit()
        deadline = time.monotonic() + 5
        with pytest.raises(psycopg.OperationalError):
            while time.monotonic() < deadline:
                connection_alive(conn)
                time.sleep(0.02)


def test_the_sites_pool_checks_with_it(db: None) -> None:
    pool = connection.pool
    assert pool is not None
    assert pool._check is connection_alive
