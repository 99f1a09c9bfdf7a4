"""Whole-process timing of ``python -m ratings`` (the default mode of ratings_bench.py).

Writes one simulated battle file per format (Parquet, JSON Lines, optionally CSV) into a
temporary directory, then runs the command line as a user would — a fresh interpreter per
run, ``--bootstrap 1000``, output read from a pipe — and reports the best and median wall
time of each case, the CPU time (user + system, all threads) and a per-stage breakdown
measured in a separate instrumented child (import, load, online Elo, fit, bootstrap).
With ``--reference ROOT`` the same runs are made with the ``ratings`` package of another
checkout (e.g. ``/work/main``, read only) on the same files, and the JSON outputs of both
are compared number by number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 2.0

# One child per breakdown: the same imports as ``python -m ratings`` (``ratings.__main__``
# without running main), then the stages compute_leaderboard runs, timed one by one. Works
# with old checkouts too (no read_battles there: rows + load_battles, as their CLI did).
_BREAKDOWN = r"""
import json, sys, time
marks = [(time.perf_counter(), time.process_time())]
def mark():
    marks.append((time.perf_counter(), time.process_time()))
import ratings.__main__
mark()
path, rounds = sys.argv[1], int(sys.argv[2])
try:
    from ratings.io import read_battles
except ImportError:
    from ratings.io import read_battle_rows
    from ratings.outcomes import load_battles
    battles = load_battles(read_battle_rows(path))
else:
    battles = read_battles(path)
mark()
from ratings.elo import compute_online_elo
compute_online_elo(battles)
mark()
from ratings.bt import fit_bradley_terry
from ratings.counts import pair_counts
counts = pair_counts(battles)
fit = fit_bradley_terry(counts)
mark()
from ratings.bootstrap import bootstrap_bradley_terry
bootstrap_bradley_terry(battles, rounds=rounds, seed=0, counts=counts, point=fit)
mark()
out = {}
for k, name in enumerate(("import", "load", "elo", "fit", "bootstrap")):
    out[name + "_s"] = marks[k + 1][0] - marks[k][0]
    out[name + "_cpu_s"] = marks[k + 1][1] - marks[k][1]
print(json.dumps(out))
"""


def write_files(directory: Path, models: int, battles: int, formats: list[str]) -> dict[str, Path]:
    """Simulated battles (25 % ties, 30 % of them both-bad) written once per format."""
    sys.path.insert(0, str(ROOT))
    from ratings.outcomes import WINNER_STRINGS, Winner
    from ratings.simulate import simulate_battles

    truth = np.random.default_rng(models).normal(0.0, 150.0, models)
    b = simulate_battles(truth, battles, seed=battles + models, tie_rate=0.25, both_bad_share=0.3)
    names = np.array(b.models, dtype=object)
    labels = np.array([WINNER_STRINGS[Winner(k)] for k in range(4)], dtype=object)
    cols = {"model_a": names[b.model_a], "model_b": names[b.model_b], "winner": labels[b.winner]}
    out: dict[str, Path] = {}
    stem = f"battles-{models}x{battles}"
    for fmt in formats:
        path = directory / f"{stem}.{fmt}"
        out[fmt] = path
        if path.exists():
            continue
        if fmt == "jsonl":
            enc_m = [json.dumps(n) for n in b.models]
            enc_w = [json.dumps(WINNER_STRINGS[Winner(k)]) for k in range(4)]
            with path.open("w", encoding="utf-8") as fh:
                fh.writelines(
                    f'{{"model_a": {enc_m[a]}, "model_b": {enc_m[c]}, "winner": {enc_w[w]}}}\n'
                    for a, c, w in zip(
                        b.model_a.tolist(), b.model_b.tolist(), b.winner.tolist(), strict=True
                    )
                )
            continue
        import pyarrow as pa

        table = pa.table({k: pa.array(v.tolist(), pa.string()) for k, v in cols.items()})
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, path)
        elif fmt == "csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, path)
        else:
            raise SystemExit(f"unknown format {fmt!r}")
    return out


def _env(root: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def run_cli(root: Path, path: Path, args: list[str], cwd: Path) -> tuple[float, float, str]:
    """One ``python -m ratings`` process: wall seconds, CPU seconds (children's user + sys),
    stdout. ``cwd`` is a scratch directory so ``-m`` cannot pick up the wrong package."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "ratings", str(path), *args],
        cwd=cwd,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"{root}: python -m ratings failed ({res.returncode}): {res.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, res.stdout


def breakdown(root: Path, path: Path, rounds: int, cwd: Path) -> dict[str, float]:
    env = _env(root)
    res = subprocess.run(
        [sys.executable, "-c", _BREAKDOWN, str(path), str(rounds)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if res.returncode != 0:
        raise SystemExit(f"{root}: breakdown failed: {res.stderr}")
    out: dict[str, float] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def python_startup(cwd: Path) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], cwd=cwd, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def compare_outputs(ours: str, ref: str) -> dict[str, float]:
    """Largest |difference| per numeric field between two ``--format json`` outputs (same
    models in the same order is required)."""
    a, b = json.loads(ours)["rows"], json.loads(ref)["rows"]
    if [r["model"] for r in a] != [r["model"] for r in b]:
        return {"same_order": 0.0}
    out: dict[str, float] = {"same_order": 1.0}
    for field in ("rating", "ci_low", "ci_high", "elo", "win_rate", "avg_win_prob"):
        diffs = [
            abs(x[field] - y[field])
            for x, y in zip(a, b, strict=True)
            if x[field] is not None and y[field] is not None
        ]
        out[f"max_abs_diff_{field}"] = max(diffs) if diffs else 0.0
    out["ranks_equal"] = float([r["rank"] for r in a] == [r["rank"] for r in b])
    out["votes_equal"] = float([r["votes"] for r in a] == [r["votes"] for r in b])
    return out


def time_checkout(
    root: Path, files: dict[str, Path], rounds: int, repeat: int, cwd: Path
) -> dict[str, Any]:
    cases: list[tuple[str, Path, list[str]]] = [
        (f"{fmt}/table", path, ["--bootstrap", str(rounds)]) for fmt, path in files.items()
    ]
    first = next(iter(files))
    cases.append((f"{first}/json", files[first], ["--bootstrap", str(rounds), "--format", "json"]))
    result: dict[str, Any] = {"root": str(root), "cases": {}}
    for name, path, args in cases:
        walls, cpus = [], []
        stdout = ""
        for _ in range(repeat):
            wall, cpu, stdout = run_cli(root, path, args, cwd)
            walls.append(wall)
            cpus.append(cpu)
        result["cases"][name] = {
            "best_s": min(walls),
            "median_s": statistics.median(walls),
            "cpu_s": min(cpus),
            "runs": walls,
        }
        if name.endswith("/json"):
            result["json_output"] = stdout
    result["breakdown"] = breakdown(root, files[first], rounds, cwd)
    return result


def report(label: str, r: dict[str, Any], startup: float) -> list[str]:
    lines = [f"{label} ({r['root']}):"]
    for name, c in r["cases"].items():
        lines.append(
            f"  python -m ratings {name:<14} best {c['best_s']:.2f} s, median "
            f"{c['median_s']:.2f} s, CPU {c['cpu_s']:.2f} s"
        )
    bd = r["breakdown"]
    stages = ("import", "load", "elo", "fit", "bootstrap")
    lines.append(
        "  breakdown, wall (CPU) in one instrumented run: "
        + ", ".join(f"{k} {bd[k + '_s']:.3f} s ({bd[k + '_cpu_s']:.3f})" for k in stages)
        + f"; interpreter start {startup:.3f} s"
    )
    return lines


def main(args: argparse.Namespace) -> dict[str, Any]:
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    load0 = os.getloadavg()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"1-min load average {load0[0]:.2f} at start",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="ratings-bench-") as tmp:
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        files = write_files(data_dir, args.models, args.battles, formats)
        print(
            f"data: {args.models} models x {args.battles:,} battles in {data_dir} "
            f"({time.perf_counter() - t0:.1f} s); {args.rounds} bootstrap rounds",
            flush=True,
        )
        scratch = Path(tmp)
        startup = python_startup(scratch)
        ours = time_checkout(ROOT, files, args.rounds, args.repeat, scratch)
        for line in report("this checkout", ours, startup):
            print(line, flush=True)
        ref = None
        if args.reference:
            ref = time_checkout(Path(args.reference), files, args.rounds, args.repeat, scratch)
            for line in report("reference", ref, startup):
                print(line, flush=True)
    main_case = f"{formats[0]}/table"
    whole = ours["cases"][main_case]["best_s"]
    out: dict[str, Any] = {
        "whole_process_s": whole,
        "whole_process_case": main_case,
        "goal_s": GOAL_S,
        "goal_met": whole <= GOAL_S,
        "models": args.models,
        "battles": args.battles,
        "rounds": args.rounds,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_average_start": load0[0],
        "load_average_end": os.getloadavg()[0],
        "python_startup_s": startup,
        "cases": {
            k: {kk: vv for kk, vv in v.items() if kk != "runs"} for k, v in ours["cases"].items()
        },
        "breakdown": ours["breakdown"],
    }
    print(
        f"whole process ({main_case}): {whole:.2f} s (goal <= {GOAL_S:g} s: "
        f"{'met' if whole <= GOAL_S else 'NOT met'})",
        flush=True,
    )
    if ref is not None:
        ref_whole = ref["cases"][main_case]["best_s"]
        out["reference"] = {
            "root": ref["root"],
            "whole_process_s": ref_whole,
            "cases": {
                k: {kk: vv for kk, vv in v.items() if kk != "runs"} for k, v in ref["cases"].items()
            },
            "breakdown": ref["breakdown"],
        }
        out["speedup"] = ref_whole / whole
        out["output_vs_reference"] = compare_outputs(ours["json_output"], ref["json_output"])
        diff = out["output_vs_reference"]
        print(
            f"reference {ref_whole:.2f} s -> {whole:.2f} s ({out['speedup']:.2f}x); same output: "
            f"ranks {'equal' if diff.get('ranks_equal') else 'DIFFER'}, max |diff| rating "
            f"{diff.get('max_abs_diff_rating', float('nan')):.2g}, CI "
            f"{max(diff.get('max_abs_diff_ci_low', 0), diff.get('max_abs_diff_ci_high', 0)):.2g}"
            f", online Elo {diff.get('max_abs_diff_elo', float('nan')):.2g}",
            flush=True,
        )
    return out
