"""Reading battle files: JSON Lines, JSON (a list of objects), CSV and Parquet.

Only the ``model_a``, ``model_b`` and ``winner`` columns are read; others are ignored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ratings.errors import RatingsError

__all__ = ["BattleFileError", "FileFormat", "detect_format", "read_battle_rows"]

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


def _check_columns(path: Path, columns: object) -> None:
    missing = [c for c in COLUMNS if c not in columns]  # type: ignore[operator]
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
