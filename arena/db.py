"""Prepared statements for the hot paths (issue 10).

Found by profiling the vote under load (bench/load.py, py-spy, EXPLAIN ANALYZE): PostgreSQL
planned the vote's one read (a join of six rows and four rule subqueries) in ~0.6 ms, three
times its execution. `prepared_cursor` runs statements with server-side parameters, prepared
once per pooled connection; everything else keeps Django's client-side binding (Django turns
preparing off by default for transaction-mode poolers; DB_PREPARED_STATEMENTS=0 turns it off
here too, e.g. behind a PgBouncer older than 1.21).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper


def _prepared_cursor_class() -> type:
    import psycopg

    class PreparedCursor(psycopg.Cursor):  # type: ignore[type-arg]
        """Server-side parameters; every statement is prepared on first use (per connection,
        kept by psycopg for the connection's life)."""

        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                    binary: bool | None = None) -> Any:
            return super().execute(query, params, prepare=True if prepare is None else prepare,
                                   binary=binary)

    return PreparedCursor


def _prepared_debug_wrapper_class() -> type:
    from django.db.backends.postgresql.base import CursorDebugWrapper

    class PreparedDebugWrapper(CursorDebugWrapper):
        """Logs the statement with its parameters (psycopg keeps no query text for a
        prepared execution, which Django's wrapper would log as None)."""

        def execute(self, sql: str, params: Any = None) -> Any:
            with self.debug_sql(self.db.ops.compose_sql(sql, params)):
                return CursorWrapper.execute(self, sql, params)

    return PreparedDebugWrapper


_prepared_class: list[type] = []
_debug_class: list[type] = []


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A Django cursor (queries logged, errors translated) whose statements PostgreSQL plans
    once per connection. Elsewhere, or with preparing turned off, a plain cursor.

    Pass parameters as %s; the statement must not depend on client-side quoting.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    raw_connection = connection.connection
    if raw_connection.prepare_threshold is None:  # DB_PREPARED_STATEMENTS=0
        with connection.cursor() as cursor:
            yield cursor
        return
    if not _prepared_class:
        _prepared_class.append(_prepared_cursor_class())
        _debug_class.append(_prepared_debug_wrapper_class())
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = _prepared_class[0](raw_connection)
    cursor = (_debug_class[0](raw, connection) if connection.queries_logged
              else connection.make_cursor(raw))
    with cursor:
        yield cursor
