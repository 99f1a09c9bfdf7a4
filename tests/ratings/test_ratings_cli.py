from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    {"model_a": "alpha", "model_b": "bravo", "winner": "model_a", "judge": "x"},
    {"model_a": "bravo", "model_b": "charlie", "winner": "model_b", "judge": "y"},
    {"model_a": "charlie", "model_b": "alpha", "winner": "tie", "judge": "z"},
    {"model_a": "alpha", "model_b": "charlie", "winner": "model_b", "judge": "x"},
    {"model_a": "bravo", "model_b": "alpha", "winner": "tie (bothbad)", "judge": "x"},
    {"model_a": "charlie", "model_b": "bravo", "winner": "model_b", "judge": "x"},
] * 3


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "ratings", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_jsonl_table(tmp_path: Path) -> None:
    res = run(write_jsonl(tmp_path / "b.jsonl", ROWS), "--bootstrap", "50")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["rank", "model", "rating", "ci_low", "ci_high", "votes", "win_rate"]
    assert {ln.split()[1] for ln in lines[1:4]} == {"alpha", "bravo", "charlie"}
    assert "18 battles" in res.stdout


def test_json_and_csv_agree(tmp_path: Path) -> None:
    p_json = tmp_path / "b.json"
    p_json.write_text(json.dumps(ROWS))
    p_csv = write_csv(tmp_path / "b.csv", ROWS)
    a = run(p_json, "--format", "json", "--bootstrap", "40", "--seed", "3")
    b = run(p_csv, "--format", "json", "--bootstrap", "40", "--seed", "3")
    assert a.returncode == b.returncode == 0
    assert json.loads(a.stdout)["rows"] == json.loads(b.stdout)["rows"]


def test_csv_output_anchor_elo(tmp_path: Path) -> None:
    res = run(
        write_jsonl(tmp_path / "b.jsonl", ROWS),
        "--format",
        "csv",
        "--method",
        "elo",
        "--anchor",
        "alpha=1500",
        "--bootstrap",
        "20",
        "--exclude-ties",
    )
    assert res.returncode == 0, res.stderr
    recs = list(csv.DictReader(res.stdout.splitlines()))
    by_model = {r["model"]: r for r in recs}
    assert float(by_model["alpha"]["rating"]) == 1500.0
    assert sum(int(r["votes"]) for r in recs) == 2 * 12


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_pylist(ROWS)
    pq.write_table(table, tmp_path / "b.parquet")
    res = run(tmp_path / "b.parquet", "--format", "json", "--bootstrap", "10")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["num_battles"] == 18


@pytest.mark.parametrize(
    ("content", "name", "needle"),
    [
        (None, "missing.jsonl", "no such file"),
        ('{"model_a": "a", "model_b": "b"}\n', "b.jsonl", "missing column(s) winner"),
        (
            '{"model_a": "a", "model_b": "b", "winner": "draw"}\n',
            "b.jsonl",
            "unknown winner value 'draw'",
        ),
        ("not json\n", "b.jsonl", "invalid JSON"),
        ("model_a,winner\na,tie\n", "b.csv", "missing column(s) model_b"),
        ("a,b,c\n", "b.txt", "unknown file type"),
        ("", "b.jsonl", "no battles"),
        ("not parquet", "b.parquet", "arquet"),
    ],
)
def test_bad_input_exit_2(tmp_path: Path, content: str | None, name: str, needle: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    res = run(path, "--bootstrap", "10")
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_bad_anchor_exit_2(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "b.jsonl", ROWS)
    assert run(p, "--anchor", "alpha").returncode == 2
    res = run(p, "--anchor", "zulu=1000", "--bootstrap", "0")
    assert res.returncode == 2 and "zulu" in res.stderr


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    path.write_bytes(b"PAR1")
    code = (
        "import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
        "from ratings.cli import main\n"
        f"sys.exit(main([{str(path)!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 2
    assert "needs the 'pyarrow' package" in res.stderr and "Traceback" not in res.stderr
