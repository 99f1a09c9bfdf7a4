"""Reads of a fixed shape, written once per process and database and run as prepared statements.

Found by profiling under load (issue 10, py-spy on the web and worker processes): building a
`select_related`/`prefetch_related` query with the ORM cost more Python time than running it
(a side's claim spent ~2/3 of its CPU compiling four queries whose SQL never changes; the
vote's read was ~2/3 of a vote's Python time). A `RowsRead` names the models and columns once;
its SQL is written on first use, then each call only binds parameters and turns the columns
into model instances with `Model.from_db` (Django's own converters applied, as the ORM does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field, Model

from arena.db import prepared_cursor, preparing_connection

# A model read by the statement: the model, the alias its table has in the SQL, and the
# fields to load (None: every concrete field; else a subset that includes the primary key).
Part = tuple[type[Model], str, tuple[str, ...] | None]
# A read's rows: per row, one instance per part (or None) and the extra columns' values.
Loaded = list[tuple[list[Model | None], list[Any]]]


def column_name(field: Field[Any, Any]) -> str:
    """A concrete field's column name (the stubs allow None, which only fields without a
    column of their own have)."""
    return cast(str, field.column)


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model: type[Model]) -> str:
    """The model's table, quoted for this database."""
    return quote(model._meta.db_table)


def lock_of(*aliases: str) -> str:
    """` FOR UPDATE OF` these aliases where the database locks rows (PostgreSQL), else ""
    (SQLite, where a write transaction locks the whole database anyway)."""
    if not connection.features.has_select_for_update:
        return ""
    if not connection.features.has_select_for_update_of:
        return " FOR UPDATE"
    return f" FOR UPDATE OF {', '.join(quote(a) for a in aliases)}"


@dataclass(frozen=True)
class _Load:
    model: type[Model]
    names: tuple[str, ...]  # attribute names, in the model's own order (as from_db expects)
    pk_index: int  # of the primary key among `names`
    converters: tuple[tuple[int, Any, list[Any]], ...]  # (column index, expression, converters)


@dataclass(frozen=True)
class _Statement:
    sql: str
    loads: tuple[_Load, ...]
    width: int  # columns of the models; any further columns are returned as they are


class RowsRead:
    """`SELECT <the parts' columns>[, <extra>] <tail>`: each row as one instance per part (None
    for a part whose primary key is NULL, i.e. an outer join that found nothing) and the extra
    columns' values. `tail` and `extra` are called once per database with no arguments (use
    `table`, `quote`, `lock_of`); their parameters are passed to `rows` in order."""

    def __init__(
        self,
        parts: Sequence[Part],
        tail: Callable[[], str],
        extra: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self.parts = tuple(parts)
        self.tail = tail
        self.extra = extra
        self._built: dict[str, _Statement] = {}

    def _statement(self) -> _Statement:
        vendor = connection.vendor
        built = self._built.get(vendor)
        if built is not None:
            return built
        columns: list[str] = []
        loads = []
        for model, alias, names in self.parts:
            fields = [f for f in model._meta.concrete_fields if names is None or f.name in names]
            converters = []
            for field in fields:
                col = field.get_col(alias)
                found = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
                if found:
                    converters.append((len(columns), col, found))
                columns.append(f"{quote(alias)}.{quote(column_name(field))}")
            attnames = tuple(f.attname for f in fields)
            loads.append(
                _Load(model, attnames, attnames.index(model._meta.pk.attname), tuple(converters))
            )
        extra = list(self.extra()) if self.extra else []
        sql = f"SELECT {', '.join(columns + extra)} {self.tail()}"
        built = _Statement(sql, tuple(loads), len(columns))
        self._built[vendor] = built
        return built

    def sql(self) -> str:
        return self._statement().sql

    def rows(self, params: Sequence[Any]) -> Loaded:
        statement = self._statement()
        with prepared_cursor() as cursor:  # planned once per connection: see arena.db
            cursor.execute(statement.sql, list(params))
            fetched = cursor.fetchall()
        return self.loaded(fetched)

    def loaded(self, fetched: Sequence[Sequence[Any]]) -> Loaded:
        """The fetched rows as instances (see the class)."""
        statement = self._statement()
        alias = connection.alias
        result: Loaded = []
        for row in fetched:
            values = list(row)
            objects: list[Model | None] = []
            start = 0
            for load in statement.loads:
                if values[start + load.pk_index] is None:
                    objects.append(None)
                else:
                    for index, col, converters in load.converters:
                        for convert in converters:
                            values[index] = convert(values[index], col, connection)
                    part = values[start : start + len(load.names)]
                    objects.append(load.model.from_db(alias, load.names, part))
                start += len(load.names)
            result.append((objects, values[statement.width :]))
        return result

    def row(self, params: Sequence[Any]) -> tuple[list[Model | None], list[Any]] | None:
        """The first row, or None."""
        found = self.rows(params)
        return found[0] if found else None


def primary_key(model: type[Model], value: object) -> Any:
    """`value` as the model's primary key is sent to the database (ValidationError if it
    cannot be one, as a filter on it would raise)."""
    pk = model._meta.pk
    return pk.get_db_prep_value(pk.to_python(value), connection)


class Statement:
    """A write of fixed shape (`build` is called once per database), run prepared; returns
    the number of rows it changed."""

    def __init__(self, build: Callable[[], str]) -> None:
        self.build = build
        self._built: dict[str, str] = {}

    def sql(self) -> str:
        vendor = connection.vendor
        sql = self._built.get(vendor)
        if sql is None:
            sql = self._built[vendor] = self.build()
        return sql

    def run(self, params: Sequence[Any]) -> int:
        with prepared_cursor() as cursor:
            cursor.execute(self.sql(), list(params))
            return int(cursor.rowcount)


# What `run_together` returns for each query: a read's rows, a write's count of changed rows.
Together = Loaded | int


def run_together(*queries: tuple[RowsRead | Statement, Sequence[Any]]) -> list[Together]:
    """Run the queries in order as ONE transaction (the caller's, when one is open) and return
    each one's result. On PostgreSQL they are sent at once (psycopg's pipeline mode): one
    round trip instead of one each, where every round trip of a battle's side waits for a
    busy core twice (issue 10: ~1.5 ms a statement with both cores rendering). Statements that
    fail abort the rest, and the transaction is rolled back, as in any transaction.
    Elsewhere, or with prepared statements turned off (a pooler that may not pipeline), they
    run one after the other in a transaction."""
    raw = preparing_connection()
    if raw is None:
        return _run_in_turn(queries)
    with ExitStack() as stack:
        cursors = [stack.enter_context(prepared_cursor()) for _ in queries]
        with connection.wrap_database_errors, raw.pipeline() as pipeline:
            for cursor, (query, params) in zip(cursors, queries, strict=True):
                cursor.execute(query.sql(), list(params))
            pipeline.sync()  # sends them all, with one Sync, and reads every result
        return [
            query.loaded(cursor.fetchall()) if isinstance(query, RowsRead) else cursor.rowcount
            for cursor, (query, _) in zip(cursors, queries, strict=True)
        ]


def _run_in_turn(queries: Sequence[tuple[RowsRead | Statement, Sequence[Any]]]) -> list[Together]:
    with transaction.atomic():
        return [
            query.rows(params) if isinstance(query, RowsRead) else query.run(params)
            for query, params in queries
        ]
