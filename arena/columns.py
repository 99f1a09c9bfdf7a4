"""Fetch query results as numpy columns: on PostgreSQL the server packs the rows into a few
large ``bytea`` blocks of fixed-size big-endian records (``string_agg`` of ``int4send`` /
``int8send``), which numpy reads with one structured dtype: a million rows in a few hundred
milliseconds, with no Python object (not even a protocol message) per row. Plain rows
elsewhere.

Every selected column must be non-null: an integer (``int4`` or ``int8``), a timestamp, or
a double.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import connection, transaction
from django.db.models import QuerySet

EPOCH_2000_US = 946_684_800_000_000  # timestamps come back as microseconds since 2000-01-01
BLOCK_ROWS = 1 << 17  # rows packed into one bytea block (a few MB each)

_KEEP = {"i8": np.int64, "ts": np.int64, "i4": np.int32, "f8": np.float64}
_SEND = {
    "f8": "float8send(t.c{k}::float8)",
    "i4": "int4send(t.c{k}::int4)",
    "i8": "int8send(t.c{k}::int8)",
    # PostgreSQL's own binary timestamp: microseconds since 2000-01-01 (sorts like the value)
    "ts": "int8send((extract(epoch FROM t.c{k}) * 1000000)::int8 - " + str(EPOCH_2000_US) + ")",
}


def _dtype(kinds: Sequence[str]) -> np.dtype[np.void]:
    big_endian = {"i4": ">i4", "f8": ">f8"}
    return np.dtype([(f"c{k}", big_endian.get(kind, ">i8")) for k, kind in enumerate(kinds)])


def columns_fetch(
    queryset: QuerySet[Any, Any],
    kinds: Sequence[str],
    *,
    block_by: int = 0,
) -> list[npt.NDArray[Any]]:
    """The ``values_list`` columns of ``queryset`` as integer arrays (int64 for ``"i8"`` and
    ``"ts"``, int32 for ``"i4"``: a million rows of seven columns take about 40 MB), in no
    particular order.

    ``kinds`` says each column's type: ``"i4"`` (integer), ``"i8"`` (bigint) or ``"ts"`` (a
    timestamp: microseconds since 2000-01-01 on PostgreSQL, since 1970 elsewhere). On
    PostgreSQL, the rows are packed into blocks by ``column[block_by] / BLOCK_ROWS`` (give an
    increasing integer column such as the primary key, so blocks have about that many rows).
    """
    if connection.vendor != "postgresql":
        rows = list(queryset)
        if not rows:
            return [np.zeros(0, dtype=_KEEP[kind]) for kind in kinds]
        table = np.asarray([[_as_int(v) for v in row] for row in rows], dtype=np.int64)
        return [
            np.ascontiguousarray(table[:, k]).astype(_KEEP[kind]) for k, kind in enumerate(kinds)
        ]
    sql, params = queryset.query.sql_with_params()
    return sql_columns(sql, params, kinds, block_by=block_by)


def sql_columns(
    sql: str,
    params: Sequence[object] | Mapping[str, object] | None,
    kinds: Sequence[str],
    *,
    block_by: int | None = 0,
) -> list[npt.NDArray[Any]]:  # the dtype of each column follows its kind
    """:func:`columns_fetch` for a PostgreSQL query given as SQL (its columns in order;
    ``"f8"`` for a double too). ``block_by=None``: one block (for a few hundred thousand rows
    at most)."""
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    inner = psycopg.ClientCursor(raw).mogrify(sql, params)
    record = " || ".join(_SEND[kind].format(k=k) for k, kind in enumerate(kinds))
    aliases = ", ".join(f"c{k}" for k in range(len(kinds)))
    packed = f"SELECT string_agg({record}, ''::bytea) FROM ({inner}) AS t({aliases})"
    if block_by is not None:
        packed += f" GROUP BY t.c{block_by}::int8 / {BLOCK_ROWS}"
    dtype = _dtype(kinds)
    parts: list[list[npt.NDArray[Any]]] = [[] for _ in kinds]
    with transaction.atomic(), psycopg.Cursor(raw) as cursor:  # Django's cursor is text-only
        cursor.execute("SET LOCAL work_mem = '128MB'")  # the joins' hashes stay in memory
        cursor.execute("SET LOCAL jit = off")  # compiling the plan costs more than it saves
        # Every row crosses from the parallel workers to the leader, which packs them: at the
        # default cost of that (0.1 a row) the planner never scans and joins in parallel
        # workers here. Scanned in parallel, the counted votes' columns took 1.8-1.9 s instead
        # of 2.6-2.8 s at 1M votes, 18.0 s instead of 26.3 s at 10M (2 cores, issue 10).
        cursor.execute("SET LOCAL parallel_tuple_cost = 0.01")
        cursor.execute(packed, binary=True)
        while (row := cursor.fetchone()) is not None:
            if row[0] is None:  # one block over no rows
                continue
            block = np.frombuffer(row[0], dtype=dtype)
            for k, kind in enumerate(kinds):
                parts[k].append(block[f"c{k}"].astype(_KEEP[kind]))
            del block, row
    return [
        np.concatenate(p) if p else np.zeros(0, dtype=_KEEP[kind])
        for p, kind in zip(parts, kinds, strict=True)
    ]


def _as_int(value: object) -> int:
    """SQLite hands back datetimes for timestamps: order-preserving microseconds."""
    if hasattr(value, "timestamp"):
        return int(round(value.timestamp() * 1_000_000))
    # an integer column (int) or a number the database already rounded: int() takes both
    return int(value)  # type: ignore[call-overload]
