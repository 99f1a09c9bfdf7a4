"""Reading battle files: JSON Lines, JSON (a list of objects), CSV and Parquet.

Only the ``model_a``, ``model_b`` and ``winner`` columns are read; others are ignored.

Two readers share one set of semantics. :func:`read_battle_rows` is the reference: plain
Python (``json``, ``csv``), row by row, with error messages that name the line or item.
:func:`read_battles` is the fast path used by the command line: when ``pyarrow`` is
installed it reads the three columns with Arrow's multithreaded readers, dictionary-encodes
them and maps the (few) distinct names to indices in numpy, never touching a row in Python.
Whenever the fast path sees anything unusual (a reader error, a null, a name that is not a
non-empty string, an unknown winner, a self-battle, a byte-order mark, bytes that are not
UTF-8, a JSON line holding other than exactly one object, a repeated CSV header), it hands
the file to the reference reader, which either reads it the same way or raises the exact
error it always raised. Without ``pyarrow``, JSON Lines and CSV go through the reference
reader and the bulk loader (:func:`ratings.load_battles`); Parquet needs ``pyarrow``.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from ratings.errors import RatingsError
from ratings.outcomes import (
    _WINNER_CODES,
    Battles,
    IndexedBattles,
    _columns,
    _finish,
    factorize_battle_columns,
    load_battles,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["BattleFileError", "FileFormat", "detect_format", "read_battle_rows", "read_battles"]

FileFormat = Literal["jsonl", "json", "csv", "parquet"]
COLUMNS = ("model_a", "model_b", "winner")


class BattleFileError(RatingsError):
    """A battle file cannot be read: missing, malformed, or without a required column."""


def detect_format(path: Path) -> FileFormat:
    """File format from the extension (``.jsonl``/``.ndjson``, ``.json``, ``.csv``,
    ``.parquet``/``.pq``); ``.json`` files whose first character is not ``[`` are
    read as JSON Lines."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(4096).lstrip()
        return "json" if head[:1] == b"[" else "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise BattleFileError(
        f"{path}: unknown file type {suffix!r}; use .jsonl, .json, .csv or .parquet"
    )


def _check_columns(path: Path, columns: Collection[str]) -> None:
    missing = [c for c in COLUMNS if c not in columns]
    if missing:
        raise BattleFileError(f"{path}: missing column(s) {', '.join(missing)}")


def _rows_jsonl(path: Path) -> Iterator[tuple[object, object, object]]:
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BattleFileError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise BattleFileError(f"{path}:{line_no}: expected a JSON object")
            if any(c not in obj for c in COLUMNS):
                raise BattleFileError(
                    f"{path}:{line_no}: missing column(s) "
                    + ", ".join(c for c in COLUMNS if c not in obj)
                )
            yield obj["model_a"], obj["model_b"], obj["winner"]


def _rows_json(path: Path) -> list[tuple[object, object, object]]:
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise BattleFileError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, list):
        raise BattleFileError(f"{path}: expected a JSON list of objects")
    out = []
    for k, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise BattleFileError(f"{path}: item {k} is not an object")
        if any(c not in obj for c in COLUMNS):
            raise BattleFileError(
                f"{path}: item {k}: missing column(s) "
                + ", ".join(c for c in COLUMNS if c not in obj)
            )
        out.append((obj["model_a"], obj["model_b"], obj["winner"]))
    return out


def _rows_csv(path: Path) -> Iterator[tuple[object, object, object]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        _check_columns(path, reader.fieldnames or ())
        for rec in reader:
            yield rec["model_a"], rec["model_b"], rec["winner"]


def _rows_parquet(path: Path) -> list[tuple[object, object, object]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise BattleFileError(
            f"{path}: reading Parquet needs the 'pyarrow' package (pip install pyarrow)"
        ) from None
    try:
        schema = pq.read_schema(path)
        _check_columns(path, schema.names)
        table = pq.read_table(path, columns=list(COLUMNS))
    except BattleFileError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        raise BattleFileError(f"{path}: cannot read Parquet file ({exc})") from None
    cols = [table.column(c).to_pylist() for c in COLUMNS]
    return list(zip(*cols, strict=True))


def read_battle_rows(
    path: str | Path, fmt: FileFormat | None = None
) -> list[tuple[object, object, object]]:
    """Read ``(model_a, model_b, winner)`` rows from a battle file.

    Raises :class:`BattleFileError` for a missing file, an unknown type, malformed content or
    a missing column. Winner values are validated later by :func:`ratings.load_battles`.
    """
    p = Path(path)
    if not p.is_file():
        raise BattleFileError(f"{p}: no such file")
    kind = fmt or detect_format(p)
    try:
        if kind == "jsonl":
            return list(_rows_jsonl(p))
        if kind == "json":
            return _rows_json(p)
        if kind == "csv":
            return list(_rows_csv(p))
        if kind == "parquet":
            return _rows_parquet(p)
    except UnicodeDecodeError as exc:
        raise BattleFileError(f"{p}: not UTF-8 text ({exc.reason})") from None
    raise BattleFileError(f"unknown format {kind!r}")


def read_battles(
    path: str | Path, fmt: FileFormat | None = None, *, models: Iterable[str] | None = None
) -> Battles:
    """Read a battle file straight into :class:`~ratings.Battles` (nothing filtered yet).

    Same result and same errors as ``load_battles(read_battle_rows(path, fmt))``, but JSON
    Lines, CSV and Parquet files are read column-wise with ``pyarrow`` when it is installed
    (about 0.1 s per million battles instead of several seconds); see the module docstring
    for when it falls back to the reference reader.

    Raises
    ------
    BattleFileError
        Missing file, unknown type, malformed content, missing column.
    UnknownWinnerError, InvalidBattleError, NoBattlesError
        As :func:`ratings.load_battles`.
    """
    p = Path(path)
    if not p.is_file():
        raise BattleFileError(f"{p}: no such file")
    kind = fmt or detect_format(p)
    extra = None if models is None else list(models)
    fast = _read_fast(p, kind, extra)
    if fast is None:
        return load_battles(read_battle_rows(p, kind), models=extra)
    names, a, b, win = fast
    return _finish(names, a, b, win, None, False, "tie")


def _read_fast(p: Path, kind: str, extra: list[str] | None) -> IndexedBattles | None:
    """Columnar read, or ``None`` to let the reference reader handle the file."""
    if kind == "json":
        return _json_fast(p, extra)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    try:
        if kind == "parquet":
            columns = _parquet_columns(p)
        elif kind == "jsonl":
            columns = _jsonl_columns(p)
        elif kind == "csv":
            columns = _csv_columns(p)
        else:
            return None
        return None if columns is None else _index_arrow(columns, extra)
    except Exception:  # any reader trouble: the reference reader reports it
        return None


def _json_fast(p: Path, models: list[str] | None) -> IndexedBattles | None:
    """A JSON list of objects: ``json.load`` then bulk column checks (no per-item loop)."""
    try:
        with p.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, list) or not all(type(obj) is dict for obj in data):
        return None
    cols = _columns(data)
    return None if cols is None else factorize_battle_columns(*cols, models=models)


def _utf8_without_bom(data: bytes) -> bool:
    """What Python's ``open(encoding="utf-8")`` reads without error and without a leading
    U+FEFF (which the reference reader would keep and then reject)."""
    if data.startswith(codecs.BOM_UTF8):
        return False
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parquet_columns(p: Path) -> list[pa.ChunkedArray] | None:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(p, read_dictionary=list(COLUMNS))
    if any(c not in pf.schema_arrow.names for c in COLUMNS):
        return None
    table = pf.read(columns=list(COLUMNS))
    if table.num_columns != len(COLUMNS):
        return None
    return [table.column(c) for c in COLUMNS]


def _nonblank_lines(data: bytes) -> int:
    """Lines holding something besides spaces, tabs and carriage returns (the lines the
    reference reader parses; blank ones it skips)."""
    if not data:
        return 0
    buf = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(buf == ord("\n"))
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(data)]))
    if starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]
    blank = starts == ends
    maybe = np.flatnonzero(~blank)
    maybe = maybe[np.isin(buf[starts[maybe]], np.frombuffer(b" \t\r", np.uint8))]
    extra = sum(1 for k in maybe if not data[starts[k] : ends[k]].strip(b" \t\r"))
    return int(starts.shape[0] - blank.sum() - extra)


def _jsonl_columns(p: Path) -> list[pa.ChunkedArray] | None:
    import pyarrow as pa
    import pyarrow.json as pj

    data = p.read_bytes()
    if not _utf8_without_bom(data):
        return None
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None  # a lone CR is a line break for Python's text mode, not for Arrow
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    table = pj.read_json(
        pa.BufferReader(data),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if table.num_rows != lines and table.num_rows != _nonblank_lines(data):
        return None  # an object spanning lines, or several on one line
    return [table.column(c) for c in COLUMNS]


def _csv_columns(p: Path) -> list[pa.ChunkedArray] | None:
    import pyarrow as pa
    import pyarrow.csv as pc

    data = p.read_bytes()
    if not _utf8_without_bom(data):
        return None
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode("utf-8")
    header = next(csv.reader([first]), [])
    if any(header.count(c) != 1 for c in COLUMNS):
        return None  # missing (the reference reader names it) or repeated (it keeps the last)
    table = pc.read_csv(
        pa.BufferReader(data),
        parse_options=pc.ParseOptions(newlines_in_values=True),
        convert_options=pc.ConvertOptions(
            include_columns=list(COLUMNS),
            column_types={c: pa.dictionary(pa.int32(), pa.string()) for c in COLUMNS},
            strings_can_be_null=False,
        ),
    )
    return [table.column(c) for c in COLUMNS]


_Chunk = tuple[list[Any], npt.NDArray[np.bool_], npt.NDArray[np.int32]]
"""Per chunk of a column: dictionary values, which of them occur, the indices."""


def _dictionary_chunks(column: pa.ChunkedArray) -> list[_Chunk] | None:
    """The column's chunks as dictionary arrays; ``None`` if the column has nulls or is not
    a string column."""
    import pyarrow as pa

    out = []
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
                return None
            chunk = chunk.dictionary_encode()
        values = chunk.dictionary
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            return None
        if chunk.null_count or values.null_count:
            return None
        idx = chunk.indices.to_numpy(zero_copy_only=False)
        used = np.bincount(idx, minlength=len(values)) > 0
        out.append((values.to_pylist(), used, idx))
    return out


def _codes(chunks: list[_Chunk], lut: dict[object, int]) -> npt.NDArray[np.int64] | None:
    """``lut[value]`` for every row, computed once per distinct value of each chunk;
    ``None`` if a value that occurs is not in ``lut``."""
    out = []
    for values, used, idx in chunks:
        table = np.array(
            [lut.get(v, -1) if u else 0 for v, u in zip(values, used.tolist(), strict=True)],
            dtype=np.int64,
        )
        if np.any(table < 0):
            return None
        out.append(table[idx])
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _index_arrow(
    columns: Sequence[pa.ChunkedArray], models: list[str] | None
) -> IndexedBattles | None:
    """Model indices over sorted names and winner codes from three Arrow string columns,
    computed per distinct value; ``None`` when any row is invalid."""
    a_parts, b_parts, w_parts = (_dictionary_chunks(c) for c in columns)
    if a_parts is None or b_parts is None or w_parts is None:
        return None
    seen: dict[str, None] = {}
    for values, used, _ in (*a_parts, *b_parts):
        for name, occurs in zip(values, used.tolist(), strict=True):
            if occurs:
                if not name:  # an empty string: the reference reader names the row
                    return None
                seen[name] = None
    for extra in models or ():
        seen.setdefault(extra)
    names = tuple(sorted(seen))
    pos: dict[object, int] = {name: k for k, name in enumerate(names)}
    a, b, win = _codes(a_parts, pos), _codes(b_parts, pos), _codes(w_parts, _WINNER_CODES)
    if a is None or b is None or win is None or np.any(a == b):
        return None
    return names, a, b, win.astype(np.int8)
