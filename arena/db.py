"""Prepared statements for the hot paths (issue 10).

Found by profiling the vote under load (bench/load.py, py-spy, EXPLAIN ANALYZE): PostgreSQL
planned the vote's one read (a join of six rows and four rule subqueries) in ~0.6 ms, three
times its execution. `prepared_cursor` runs statements with server-side parameters, prepared
once per pooled connection; everything else keeps Django's client-side binding (Django turns
preparing off by default for transaction-mode poolers; DB_PREPARED_STATEMENTS=0 turns it off
here too, e.g. behind a PgBouncer older than 1.21).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from django.db.models.signals import post_save

if TYPE_CHECKING:
    from django.db.backends.utils import _ExecuteQuery  # only in django-stubs

logger = logging.getLogger(__name__)


@functools.cache
def _cursor_classes() -> tuple[type, type]:
    """(the psycopg cursor, Django's debug wrapper for it), built on first use so that a
    SQLite-only process never imports the PostgreSQL backend."""
    import psycopg
    from django.db.backends.postgresql.base import CursorDebugWrapper

    class PreparedCursor(psycopg.Cursor[Any]):
        """Server-side parameters; every statement is prepared on first use (per connection,
        kept by psycopg for the connection's life)."""

        def execute(
            self,
            query: Any,
            params: Any = None,
            *,
            prepare: bool | None = None,
            binary: bool | None = None,
        ) -> Any:
            return super().execute(
                query, params, prepare=True if prepare is None else prepare, binary=binary
            )

    class PreparedDebugWrapper(CursorDebugWrapper):
        """Logs the statement with its parameters (psycopg keeps no query text for a
        prepared execution, which Django's wrapper would log as None)."""

        def execute(self, sql: _ExecuteQuery, params: Any = None) -> Any:
            with self.debug_sql(self.db.ops.compose_sql(sql, params)):
                return CursorWrapper.execute(self, sql, params)

    return PreparedCursor, PreparedDebugWrapper


def preparing_connection() -> Any | None:
    """This thread's psycopg connection (opened if need be) when it prepares statements and may
    pipeline them: PostgreSQL with preparing on. None elsewhere, and with
    DB_PREPARED_STATEMENTS=0 (a transaction-mode pooler, which may not pipeline either)."""
    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    raw = connection.connection
    return None if raw.prepare_threshold is None else raw


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A Django cursor (queries logged, errors translated) whose statements PostgreSQL plans
    once per connection. Elsewhere, or with preparing turned off, a plain cursor.

    Pass parameters as %s; the statement must not depend on client-side quoting.
    """
    raw_connection = preparing_connection()
    if raw_connection is None:
        with connection.cursor() as cursor:
            yield cursor
        return
    cursor_class, debug_wrapper = _cursor_classes()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = cursor_class(raw_connection)
    cursor = (
        debug_wrapper(raw, connection) if connection.queries_logged else connection.make_cursor(raw)
    )
    with cursor:
        yield cursor


def database_connection_release() -> None:
    """Give this thread's database connection back (to the pool, on PostgreSQL) unless a
    transaction is open. Called before a provider is asked for an output: that call can take
    minutes, and each thread of a `remote` worker would otherwise hold a pooled connection
    the whole time, so a worker with more threads than its pool has connections (32 against
    WORKER_DB_POOL_MAX, 12 by default in `make prod`) could only wait, then fail, on the rest.
    The next query takes a connection again (a checkout, no new connection)."""
    if not connection.in_atomic_block:
        connection.close()


@contextmanager
def atomic_sent_with_commit() -> Iterator[Callable[[], None]]:
    """`transaction.atomic()`, giving a function that, called in the block, queues the
    block's statements from then on to be sent with the COMMIT: on PostgreSQL with prepared
    statements (psycopg's pipeline mode, ended after the COMMIT), one round trip for all of
    them; elsewhere, or with preparing turned off (a pooler that may not pipeline), they run
    as usual. Only writes whose row counts nobody reads may be queued (`fields_update`,
    `QuerySet.update`; not `Model.save`, which checks the count), and reads, which wait for
    their results.

    When the block raises while statements are queued, they are sent (and their results
    read) before the rollback: a queued statement's error read first by the rollback makes
    it fail, and Django then drops the connection, back to its pool still in pipeline mode
    (where a thread waiting for a connection would get it, and this block's end would later
    end that pipeline under it)."""
    pipelines: list[Any] = []
    with ExitStack() as stack, transaction.atomic():

        def send_with_commit() -> None:
            raw = preparing_connection()
            if raw is not None:
                stack.enter_context(connection.wrap_database_errors)
                pipelines.append(stack.enter_context(raw.pipeline()))

        try:
            yield send_with_commit
        except BaseException:
            for pipeline in pipelines:
                try:
                    pipeline.sync()
                except Exception as exc:  # rolled back with the rest, raised or not
                    logger.warning("a statement queued for the commit failed: %s", exc)
            raise


def fields_update(instance: Model, names: Sequence[str]) -> None:
    """UPDATE these fields of a stored row (what `save(update_fields=...)` writes, without
    reading back how many rows it changed, so it can be sent with the commit) and send the
    post_save signal the save would."""
    model = type(instance)
    columns = [f.attname for f in model._meta.concrete_fields if f.name in names]
    if len(columns) != len(set(names)):
        raise ValueError(f"not concrete fields of {model.__name__}: {sorted(names)}")
    model._base_manager.filter(pk=instance.pk).update(
        **{attname: getattr(instance, attname) for attname in columns}
    )
    saved_signal(instance, update_fields=names)


def saved_signal(instance: Model, *, update_fields: Sequence[str] | None) -> None:
    """The post_save signal Model.save sends, for a row written another way (a prepared or
    pipelined statement): created when `update_fields` is None."""
    post_save.send(
        sender=type(instance),
        instance=instance,
        created=update_fields is None,
        update_fields=None if update_fields is None else frozenset(update_fields),
        raw=False,
        using=connection.alias,
    )
