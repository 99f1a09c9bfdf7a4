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


def test_every_input_format_gives_the_same_board(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [
        {"model_a": "gpt-ü", "model_b": 'q"uote, inc', "winner": "model_a"},
        {"model_a": 'q"uote, inc', "model_b": "模型", "winner": "tie (bothbad)"},
        {"model_a": "模型", "model_b": "gpt-ü", "winner": "model_b"},
        {"model_a": "gpt-ü", "model_b": "模型", "winner": "tie"},
        {"model_a": "模型", "model_b": 'q"uote, inc', "winner": "model_a"},
    ] * 4
    paths = [write_jsonl(tmp_path / "b.jsonl", rows), write_csv(tmp_path / "b.csv", rows)]
    (tmp_path / "b.json").write_text(json.dumps(rows))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "b.parquet", row_group_size=3)
    paths += [tmp_path / "b.json", tmp_path / "b.parquet"]
    outs = [run(p, "--format", "json", "--bootstrap", "30", "--seed", "5") for p in paths]
    assert all(o.returncode == 0 for o in outs), [o.stderr for o in outs]
    boards = [json.loads(o.stdout) for o in outs]
    assert all(b["rows"] == boards[0]["rows"] for b in boards)
    assert {r["model"] for r in boards[0]["rows"]} == {"gpt-ü", 'q"uote, inc', "模型"}
    assert all(r["elo"] is not None for r in boards[0]["rows"])  # JSON carries online Elo


@pytest.mark.parametrize(
    ("content", "name", "needle"),
    [
        (
            "model_a,model_b,winner\na,b,tie\na,b,draw\n",
            "b.csv",
            "row 1: unknown winner value 'draw'",
        ),
        ("model_a,model_b,winner\na,a,tie\n", "b.csv", "row 0: model 'a' battles itself"),
        ("\ufeffmodel_a,model_b,winner\na,b,tie\n", "b.csv", "missing column(s) model_a"),
        ('{"model_a": "a", "model_b": "b", "winner": null}\n', "b.jsonl", "unknown winner"),
        ('{"model_a": "a", "model_b": "b"}\n', "b.json", "missing column(s) winner"),
    ],
)
def test_bad_input_through_the_fast_reader_exit_2(
    tmp_path: Path, content: str, name: str, needle: str
) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    res = run(path, "--bootstrap", "10")
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_the_command_line_runs_without_scipy_and_with_one_blas_thread(tmp_path: Path) -> None:
    """scipy cost a quarter of a second of imports per run; BLAS threads cost more."""
    path = write_jsonl(tmp_path / "b.jsonl", ROWS)
    code = (
        "import os, runpy, sys\n"
        "assert 'numpy' not in sys.modules\n"
        f"sys.argv = ['ratings', {str(path)!r}, '--bootstrap', '20', '--format', 'json']\n"
        "try:\n"
        "    runpy.run_module('ratings', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'django'))\n"
        "assert not bad, bad\n"
        "assert os.environ['OPENBLAS_NUM_THREADS'] == '1'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OPENBLAS_NUM_THREADS", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["num_battles"] == len(ROWS)


def test_readers_work_without_pyarrow(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "b.jsonl", ROWS)
    csv_path = write_csv(tmp_path / "b.csv", ROWS)
    code = (
        "import json, sys; sys.modules['pyarrow'] = None\n"
        "from ratings.io import read_battles\n"
        f"a, b = read_battles({str(jsonl)!r}), read_battles({str(csv_path)!r})\n"
        "assert a.models == b.models and a.winner.tolist() == b.winner.tolist()\n"
        "print(len(a))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(len(ROWS))
