"""The bulk row loader and the columnar file reader against the row-by-row reference.

``load_battles`` factorises whole columns and ``read_battles`` reads files with pyarrow;
both must give exactly the arrays the original row loop gives, and on bad input exactly the
error it raised (same type, same message, same row).
"""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ratings import Battles, Winner, load_battles, read_battle_rows, read_battles
from ratings.errors import RatingsError
from ratings.io import _read_fast, detect_format
from ratings.outcomes import _load_rows_reference

ROWS: list[tuple[Any, Any, Any]] = [
    ("gpt-ünïcødé", "模型-b", "model_a"),
    ("模型-b", "c,omma", "tie"),
    ('q"uote', "gpt-ünïcødé", "tie (bothbad)"),
    ("c,omma", 'q"uote', "model_b"),
    ("emoji 😀", "c,omma", "tie"),
    ("gpt-ünïcødé", "emoji 😀", "model_b"),
]


def outcome(fn: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``("ok", (models, a, b, winner))`` or ``("error", (type, message))``."""
    try:
        b = fn(*args, **kwargs)
    except RatingsError as exc:
        return "error", (type(exc).__name__, str(exc))
    if isinstance(b, Battles):
        return "ok", (b.models, b.model_a.tolist(), b.model_b.tolist(), b.winner.tolist())
    names, a, bb, w = b
    return "ok", (names, a.tolist(), bb.tolist(), w.tolist())


def reference(rows: Any, models: Any = None) -> tuple[str, Any]:
    """The original loader: the row loop, then the same "no battles" rule."""
    res = outcome(_load_rows_reference, list(rows), models)
    if res[0] == "ok" and not res[1][1]:
        return "error", ("NoBattlesError", "no battles to rate (after excluding ties / both-bad)")
    return res


def assert_same_as_reference(rows: Any, models: Any = None) -> None:
    assert outcome(load_battles, rows, models=models) == reference(rows, models)


def test_bulk_loader_matches_reference_on_unicode_ties_and_both_bad() -> None:
    got = load_battles(ROWS)
    assert got.models == tuple(sorted({m for r in ROWS for m in r[:2]}))
    assert got.winner.tolist() == [0, 2, 3, 1, 2, 1]
    assert_same_as_reference(ROWS)
    assert_same_as_reference(ROWS, models=["zz-extra", "0-extra", "gpt-ünïcødé"])


def test_row_shapes_all_load_the_same() -> None:
    pair = namedtuple("pair", "model_a model_b winner judge")
    shapes = [
        [list(r) for r in ROWS],
        [(*r, "extra", 7) for r in ROWS],
        [pair(*r, "x") for r in ROWS],
        [{"model_a": a, "model_b": b, "winner": w, "judge": 1} for a, b, w in ROWS],
        [r if k % 2 else list(r) for k, r in enumerate(ROWS)],
        (r for r in ROWS),  # a generator
    ]
    want = outcome(load_battles, ROWS)
    for rows in shapes:
        assert outcome(load_battles, rows) == want


@pytest.mark.parametrize(
    "rows",
    [
        [("a", "b", "model_a"), ("a", "b", "draw")],
        [("a", "b", "tie"), ("a", "b", None)],
        [("a", "b", "tie"), ("a", "b", 0)],  # a plain int is not a Winner
        [("a", "b", Winner.TIE), ("b", "a", Winner.A)],  # Winner values are accepted
        [("a", "b", "tie"), ("a", "b", Winner.B), ("a", "b", 0)],
        [("a", "b", "tie"), ("", "b", "tie")],
        [("a", "b", "tie"), ("a", None, "tie")],
        [("a", "b", "tie"), ("a", 3, "tie")],
        [("a", "b", "tie"), (["a"], "b", "tie")],  # unhashable name
        [("a", "b", "tie"), ("a", "b", ["tie"])],  # unhashable winner
        [("a", "b", "tie"), ("b", "b", "tie")],
        [("a", "b", "tie"), ("a", "b")],
        [{"model_a": "a", "model_b": "b", "winner": "tie"}, {"model_a": "a", "model_b": "b"}],
        [("a", "b", "tie"), {"model_a": "a", "model_b": "b", "winner": "tie"}],
        [("a", "a", "tie"), ("a", "b", "draw")],  # first error wins: the self battle
        [("a", "b", "draw"), ("b", "b", "tie")],  # first error wins: the winner
        [("a", "", "draw")],  # within one row: names are checked before the winner
        ["abc", ("a", "b", "tie")],  # a string is a sequence of three characters
        [],
    ],
)
def test_errors_are_those_of_the_reference_loop(rows: list[Any]) -> None:
    assert_same_as_reference(rows)


names = st.sampled_from(["a", "b", "c", "ü", "", "a ", 3, None])
winners = st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)", "Tie", None, 1])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, names, winners), max_size=12))
def test_bulk_loader_equals_reference_on_random_rows(rows: list[tuple[Any, Any, Any]]) -> None:
    assert_same_as_reference(rows)


# ---- files ---------------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[tuple[Any, Any, Any]], sep: str = "\n") -> Path:
    path.write_text(
        "".join(
            json.dumps({"model_a": a, "model_b": b, "winner": w, "n": k}) + sep
            for k, (a, b, w) in enumerate(rows)
        ),
        encoding="utf-8",
        newline="",
    )
    return path


def csv_text(rows: list[tuple[Any, Any, Any]]) -> str:
    def q(s: str) -> str:
        return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s

    return "judge,model_a,model_b,winner\n" + "".join(
        f"j{k},{q(a)},{q(b)},{q(w)}\n" for k, (a, b, w) in enumerate(rows)
    )


def file_outcome(path: Path) -> tuple[str, Any]:
    return outcome(read_battles, path)


def reference_file_outcome(path: Path) -> tuple[str, Any]:
    try:
        rows = read_battle_rows(path)
    except RatingsError as exc:
        return "error", (type(exc).__name__, str(exc))
    return outcome(load_battles, rows)


def assert_file_matches(path: Path, *, fast: bool | None = None) -> tuple[str, Any]:
    got = file_outcome(path)
    assert got == reference_file_outcome(path)
    if fast is not None:
        assert (_read_fast(path, detect_format(path), None) is not None) == fast
    return got


@pytest.fixture
def pa() -> Any:
    return pytest.importorskip("pyarrow")


def test_jsonl_fast_path_equals_reference(tmp_path: Path, pa: Any) -> None:
    got = assert_file_matches(write_jsonl(tmp_path / "b.jsonl", ROWS), fast=True)
    assert got == outcome(load_battles, ROWS)
    assert_file_matches(write_jsonl(tmp_path / "crlf.jsonl", ROWS, "\r\n"), fast=True)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n" + write_jsonl(tmp_path / "x", ROWS).read_text() + "\n  \t\n\n")
    assert_file_matches(blank, fast=True)


@pytest.mark.parametrize(
    ("name", "content", "fast"),
    [
        ("unknown-winner", '{"model_a": "a", "model_b": "b", "winner": "draw"}\n', False),
        ("null-winner", '{"model_a": "a", "model_b": "b", "winner": null}\n', False),
        ("missing-key", '{"model_a": "a", "model_b": "b"}\n{"winner": "tie"}\n', False),
        ("number-name", '{"model_a": 1, "model_b": "b", "winner": "tie"}\n', False),
        ("empty-name", '{"model_a": "", "model_b": "b", "winner": "tie"}\n', False),
        ("self", '{"model_a": "b", "model_b": "b", "winner": "tie"}\n', False),
        ("not-object", "[1, 2]\n", False),
        ("bad-json", '{"model_a": "a",\n', False),
        ("two-per-line", '{"model_a": "a", "model_b": "b", "winner": "tie"} ' * 2 + "\n", False),
        ("across-lines", '{"model_a": "a",\n"model_b": "b", "winner": "tie"}\n', False),
        ("lone-cr", '{"model_a": "a", "model_b": "b", "winner": "tie"}\r' * 2, False),
        ("bom", '\ufeff{"model_a": "a", "model_b": "b", "winner": "tie"}\n', False),
        ("nbsp-line", '{"model_a": "a", "model_b": "b", "winner": "tie"}\n\u00a0\n', False),
        ("empty", "", False),
        ("blank-only", "\n \n", True),
        ("nan-extra", '{"model_a": "a", "model_b": "b", "winner": "tie", "x": NaN}\n', True),
    ],
)
def test_jsonl_oddities_match_reference(
    tmp_path: Path, pa: Any, name: str, content: str, fast: bool
) -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_text(content, encoding="utf-8", newline="")
    assert_file_matches(path, fast=fast)


def test_jsonl_invalid_utf8_anywhere_is_the_reference_error(tmp_path: Path, pa: Any) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"model_a": "a", "model_b": "b", "winner": "tie", "x": "\xff"}\n')
    got = assert_file_matches(path, fast=False)
    assert got[0] == "error" and "not UTF-8" in got[1][1]


def test_csv_with_quotes_commas_newlines_matches_reference(tmp_path: Path, pa: Any) -> None:
    rows = [*ROWS, ("multi\nline", 'say "hi"', "model_a")]
    path = tmp_path / "b.csv"
    path.write_text(csv_text(rows), encoding="utf-8", newline="")
    got = assert_file_matches(path, fast=True)
    assert got == outcome(load_battles, rows)
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(csv_text(rows).replace("\n", "\r\n").encode())
    assert_file_matches(crlf)


@pytest.mark.parametrize(
    ("name", "content", "fast"),
    [
        ("unknown-winner", "model_a,model_b,winner\na,b,tie\na,b,draw\n", False),
        ("empty-name", "model_a,model_b,winner\n,b,tie\n", False),
        ("short-row", "model_a,model_b,winner\na,b\n", False),
        ("long-row", "model_a,model_b,winner\na,b,tie,extra\n", False),
        ("repeated-header", "model_a,model_a,model_b,winner\nx,y,b,tie\n", False),
        ("missing-column", "model_a,winner\na,tie\n", False),
        ("bom", "\ufeffmodel_a,model_b,winner\na,b,tie\n", False),
        ("header-only", "model_a,model_b,winner\n", True),
        ("empty", "", False),
        ("blank-lines", "model_a,model_b,winner\n\na,b,tie\n\n", True),
        ("spaces", "model_a,model_b,winner\n a , b ,tie\n", True),
        ("self", "model_a,model_b,winner\nb,b,tie\n", False),
    ],
)
def test_csv_oddities_match_reference(
    tmp_path: Path, pa: Any, name: str, content: str, fast: bool
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(content, encoding="utf-8", newline="")
    assert_file_matches(path, fast=fast)


def test_json_list_matches_reference(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps([{"model_a": a, "model_b": b, "winner": w} for a, b, w in ROWS]))
    assert assert_file_matches(path, fast=True) == outcome(load_battles, ROWS)
    for k, (bad, fast) in enumerate(
        [
            ('[{"model_a": "a", "model_b": "b", "winner": "tie"}, 3]', False),
            ('[{"model_a": "a", "model_b": "b"}]', False),
            ('{"model_a": "a"}', False),  # not a list: read as JSON Lines, a missing column
            ('[{"model_a": "a", "model_b": "b", "winner": "nope"}]', False),
            ('[{"model_a": "a", "model_b": "b", "winner": "tie"}', False),
            ("[]", True),  # read fine, nothing to rate
        ]
    ):
        path = tmp_path / f"bad{k}.json"
        path.write_text(bad)
        assert assert_file_matches(path, fast=fast)[0] == "error"


def test_parquet_row_groups_nulls_and_types_match_reference(tmp_path: Path, pa: Any) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    cols = {k: [r[i] for r in ROWS] for i, k in enumerate(("model_a", "model_b", "winner"))}
    path = tmp_path / "groups.parquet"
    # two-row groups: every chunk has its own dictionary, with different models in each
    pq.write_table(pa.table(cols), path, row_group_size=2)
    assert assert_file_matches(path, fast=True) == outcome(load_battles, ROWS)

    large = tmp_path / "large.parquet"
    pq.write_table(pa.table({k: pa.array(v, pa.large_string()) for k, v in cols.items()}), large)
    assert_file_matches(large, fast=True)

    bad_tables = {
        "null-winner": {**cols, "winner": [*cols["winner"][:-1], None]},
        "null-name": {**cols, "model_b": [None, *cols["model_b"][1:]]},
        "unknown": {**cols, "winner": ["draw", *cols["winner"][1:]]},
        "int-names": {**cols, "model_a": list(range(len(ROWS)))},
        "self": {**cols, "model_b": cols["model_a"]},
        "missing": {"model_a": cols["model_a"], "winner": cols["winner"]},
    }
    for name, table in bad_tables.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table(table), path, row_group_size=4)
        got = assert_file_matches(path, fast=False)
        assert got[0] == "error", name


def test_parquet_unused_dictionary_entries_are_not_models(tmp_path: Path, pa: Any) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    names = pa.array(["a", "b", "ghost"])
    winners = pa.array(["model_a", "tie", "draw"])  # "draw" is in the dictionary, unused
    table = pa.table(
        {
            "model_a": pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int32()), names),
            "model_b": pa.DictionaryArray.from_arrays(pa.array([1, 0], pa.int32()), names),
            "winner": pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int32()), winners),
        }
    )
    path = tmp_path / "dict.parquet"
    pq.write_table(table, path)
    got = read_battles(path)
    assert got.models == ("a", "b")
    assert got.winner.tolist() == [Winner.A, Winner.TIE]
    assert_file_matches(path, fast=True)


def test_extra_models_and_large_file_round_trip(tmp_path: Path, pa: Any) -> None:
    rng = np.random.default_rng(0)
    models = [f"m{k:02d}-ü" for k in range(30)]
    a = rng.integers(0, 30, 20_000)
    b = (a + rng.integers(1, 30, 20_000)) % 30
    w = rng.integers(0, 4, 20_000)
    labels = ["model_a", "model_b", "tie", "tie (bothbad)"]
    rows = [(models[x], models[y], labels[z]) for x, y, z in zip(a, b, w, strict=True)]
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    got = read_battles(path, models=["zz-new"])
    want = load_battles(rows, models=["zz-new"])
    assert got.models == want.models and "zz-new" in got.models
    assert np.array_equal(got.model_a, want.model_a)
    assert np.array_equal(got.model_b, want.model_b)
    assert np.array_equal(got.winner, want.winner)
    assert _read_fast(path, "jsonl", None) is not None
