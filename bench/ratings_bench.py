"""Benchmarks of ``ratings``.

Default mode: whole-process time of ``python -m ratings`` on 1M battles x 100 models with
1000 bootstrap rounds (goal <= 2 s), per file format, with a per-stage breakdown and, with
``--reference /work/main``, the same runs with another checkout's ``ratings`` on the same
files (see ratings_cli_bench.py)::

    .venv/bin/python bench/ratings_bench.py [--reference /work/main] [--json]

With ``--json`` the last line printed is one JSON object (``whole_process_s`` first).

``--compare`` mode (needs the benchmark virtualenv, see bench/README.md) compares the
library against FastChat's and evalica's Bradley–Terry pipelines::

    .venv-bench/bin/python bench/ratings_bench.py --compare [--sizes 20x10000,100x1000000]

For every (models, battles) size it simulates Bradley–Terry battles with ties, then times,
in this one process and on the same data:

* ours: aggregation into the pair table, the MLE fit, 1000 bootstrap rounds (from the
  loaded index arrays), and peak traced memory (tracemalloc) of that pipeline;
* FastChat 0.2.36 ``compute_elo_mle_with_tie`` (per-battle logistic regression, sklearn,
  default L2 penalty C=1) and ``get_bootstrap_result`` with it; the bootstrap is timed on a
  few rounds and extrapolated to 1000 (marked ``~``);
* evalica ``bradley_terry`` (Newman's iteration, Rust), with a per-round resample loop timed
  on a few rounds and extrapolated to 1000.

Accuracy: the largest |rating difference| (points, both centred on mean 1000) between our
plain MLE and (a) FastChat's function as shipped (L2-penalised, tol 1e-4), (b) FastChat's
function with ``LogisticRegression`` swapped for an unpenalised, tightly converged one
(``C=inf, tol=1e-10``: identical expansion, no penalty), (c) evalica at tolerance 1e-12.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import os
import platform
import sys
import time
import tracemalloc
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ratings import (  # noqa: E402
    Winner,
    bootstrap_bradley_terry,
    compute_online_elo,
    fit_bradley_terry,
    pair_counts,
    simulate_battles,
)
from ratings.outcomes import WINNER_STRINGS, Battles  # noqa: E402

DEFAULT_SIZES = "20x10000,100x1000000,300x3000000"
ROUNDS = 1000


_CPU: list[float] = [0.0]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``fn()``; its process CPU seconds (all threads) go to ``_CPU[0]``."""
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    _CPU[0] = time.process_time() - c0
    return wall, out


def _centre(x: np.ndarray) -> np.ndarray:
    return x - x.mean() + 1000.0


def _import_fastchat() -> Any:
    """Import FastChat's elo_analysis without its heavy, unused imports (torch & co.)."""
    stubs = {
        "fastchat.model": [],
        "fastchat.model.model_registry": ["get_model_info"],
        "fastchat.serve.monitor.basic_stats": ["get_log_files"],
        "fastchat.serve.monitor.clean_battle_data": ["clean_battle_data"],
    }
    for name, attrs in stubs.items():
        if name not in sys.modules:
            mod = types.ModuleType(name)
            for attr in attrs:
                setattr(mod, attr, lambda *a, **k: None)
            sys.modules[name] = mod
    os.environ.setdefault("TQDM_DISABLE", "1")
    import fastchat.serve.monitor.elo_analysis as ea

    return ea


def ours(b: Battles, rounds: int, repeat: int = 1) -> dict[str, Any]:
    """Time our pipeline ``repeat`` times and keep the best time of each stage."""
    t_agg = t_fit = t_boot = t_elo = cpu_boot = math.inf
    for _ in range(repeat):
        t, counts = _timed(lambda: pair_counts(b))
        t_agg = min(t_agg, t)
        t, fit = _timed(lambda: fit_bradley_terry(counts))  # noqa: B023
        t_fit = min(t_fit, t)
        t, boot = _timed(
            lambda: bootstrap_bradley_terry(b, rounds=rounds, seed=0, counts=counts, point=fit)  # noqa: B023
        )
        if t < t_boot:
            t_boot, cpu_boot = t, _CPU[0]
        t, _ = _timed(lambda: compute_online_elo(b))
        t_elo = min(t_elo, t)
    tracemalloc.start()
    c2 = pair_counts(b)
    f2 = fit_bradley_terry(c2)
    bootstrap_bradley_terry(b, rounds=rounds, seed=0, counts=c2, point=f2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "agg_s": t_agg,
        "fit_s": t_fit,
        "boot_s": t_boot,
        "boot_cpu_s": cpu_boot,
        "total_s": t_agg + t_fit + t_boot,
        "online_elo_s": t_elo,
        "peak_mib": peak / 2**20,
        "fit_iterations": fit.iterations,
        "ratings": fit.ratings,
        "ci_width": float(np.mean(boot.ci_high - boot.ci_low)),
        "regularized": fit.regularized,
    }


def to_frame(b: Battles) -> Any:
    import pandas as pd

    names = np.array(b.models, dtype=object)
    labels = np.array([WINNER_STRINGS[Winner(k)] for k in range(4)], dtype=object)
    return pd.DataFrame(
        {"model_a": names[b.model_a], "model_b": names[b.model_b], "winner": labels[b.winner]}
    )


def fastchat(b: Battles, df: Any, boot_rounds: int, unpenalised: bool) -> dict[str, Any]:
    ea = _import_fastchat()
    import sklearn.linear_model as lm

    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_fit, s = _timed(lambda: ea.compute_elo_mle_with_tie(df))
        out["fit_s"] = t_fit
        out["ratings"] = _centre(s.reindex(list(b.models)).to_numpy())
        if boot_rounds:
            t_b, _ = _timed(
                lambda: ea.get_bootstrap_result(df, ea.compute_elo_mle_with_tie, boot_rounds)
            )
            out["boot_s_measured"] = t_b
            out["boot_rounds_measured"] = boot_rounds
            out["boot_s"] = t_b * ROUNDS / boot_rounds
        if unpenalised:
            original = lm.LogisticRegression
            lm.LogisticRegression = functools.partial(  # type: ignore[misc]
                original, C=np.inf, tol=1e-10, max_iter=100_000
            )
            try:
                t_u, s_u = _timed(lambda: ea.compute_elo_mle_with_tie(df))
            finally:
                lm.LogisticRegression = original  # type: ignore[misc]
            out["unpenalised_fit_s"] = t_u
            out["ratings_unpenalised"] = _centre(s_u.reindex(list(b.models)).to_numpy())
    return out


def evalica_ref(b: Battles, boot_rounds: int) -> dict[str, Any]:
    import evalica
    import pandas as pd

    names = np.array(b.models, dtype=object)
    ew = np.array(
        [evalica.Winner.X, evalica.Winner.Y, evalica.Winner.Draw, evalica.Winner.Draw], dtype=object
    )
    xs, ys, ws = names[b.model_a], names[b.model_b], ew[b.winner]
    lx, ly, lw = xs.tolist(), ys.tolist(), ws.tolist()  # its Rust solver wants lists
    index = pd.Index(list(b.models))

    def fit(xs: Any, ys: Any, ws: Any, tol: float = 1e-6, limit: int = 100) -> Any:
        return evalica.bradley_terry(xs, ys, ws, index=index, tolerance=tol, limit=limit)

    t_fit, r = _timed(lambda: fit(lx, ly, lw))
    precise = fit(lx, ly, lw, tol=1e-12, limit=100_000)
    rng = np.random.default_rng(0)
    n = len(b)

    def boot() -> None:
        for _ in range(boot_rounds):
            idx = rng.integers(0, n, n)
            fit(xs[idx].tolist(), ys[idx].tolist(), ws[idx].tolist())

    t_b, _ = _timed(boot)
    scores = precise.scores.reindex(list(b.models)).to_numpy()
    return {
        "fit_s": t_fit,
        "iterations_default": int(r.iterations),
        "boot_s_measured": t_b,
        "boot_rounds_measured": boot_rounds,
        "boot_s": t_b * ROUNDS / boot_rounds,
        "ratings": _centre(400.0 * np.log10(scores)),
    }


def run_size(m: int, n: int, args: argparse.Namespace) -> dict[str, Any]:
    truth = np.random.default_rng(m).normal(0.0, 150.0, m)
    b = simulate_battles(truth, n, seed=n + m, tie_rate=0.25, both_bad_share=0.3)
    res: dict[str, Any] = {"models": m, "battles": n}
    res["ours"] = ours(b, ROUNDS, args.repeat)
    mine = res["ours"]["ratings"]
    df = None
    dense_gib = 2 * n * m * 8 / 2**30  # FastChat builds a dense (2n × m) float64 matrix
    if args.no_fastchat or dense_gib > args.fastchat_max_gib:
        res["fastchat"] = {"skipped": f"dense design matrix would need {dense_gib:.1f} GiB"}
    else:
        df = to_frame(b)
        boot_rounds = max(1, min(args.ref_rounds, int(2e6 // n)))
        fc = fastchat(b, df, boot_rounds, unpenalised=not args.no_unpenalised)
        fc["max_abs_diff_as_shipped"] = float(np.max(np.abs(fc.pop("ratings") - mine)))
        if "ratings_unpenalised" in fc:
            fc["max_abs_diff_unpenalised"] = float(
                np.max(np.abs(fc.pop("ratings_unpenalised") - mine))
            )
        fc["speedup"] = (fc["fit_s"] + fc["boot_s"]) / res["ours"]["total_s"]
        res["fastchat"] = fc
    if args.no_evalica:
        res["evalica"] = {"skipped": "--no-evalica"}
    else:
        boot_rounds = max(1, min(args.ref_rounds, int(3e6 // n)))
        ev = evalica_ref(b, boot_rounds)
        ev["max_abs_diff"] = float(np.max(np.abs(ev.pop("ratings") - mine)))
        ev["speedup"] = (ev["fit_s"] + ev["boot_s"]) / res["ours"]["total_s"]
        res["evalica"] = ev
    res["ours"]["max_abs_err_vs_truth"] = float(np.max(np.abs(mine - _centre(truth))))
    del res["ours"]["ratings"]
    return res


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        return f"{x:.3g}{unit}"
    return f"{x}{unit}"


def report(r: dict[str, Any]) -> str:
    o, fc, ev = r["ours"], r["fastchat"], r["evalica"]
    lines = [
        f"== {r['models']} models x {r['battles']:,} battles ==",
        f"ours     : aggregate {_fmt(o['agg_s'], ' s')}, fit {_fmt(o['fit_s'], ' s')} "
        f"({o['fit_iterations']} Newton steps), {ROUNDS} bootstrap rounds "
        f"{_fmt(o['boot_s'], ' s')} (CPU {_fmt(o['boot_cpu_s'], ' s')}), total "
        f"{_fmt(o['total_s'], ' s')}; "
        f"peak traced memory {_fmt(o['peak_mib'], ' MiB')}; online Elo "
        f"{_fmt(o['online_elo_s'], ' s')}; mean 95% CI width {_fmt(o['ci_width'])} points",
    ]
    if "skipped" in fc:
        lines.append(f"FastChat : skipped ({fc['skipped']})")
    else:
        lines.append(
            f"FastChat : fit {_fmt(fc['fit_s'], ' s')}, {ROUNDS} bootstrap rounds "
            f"~{_fmt(fc['boot_s'], ' s')} (extrapolated from {fc['boot_rounds_measured']} "
            f"rounds = {_fmt(fc['boot_s_measured'], ' s')}); ours is "
            f"{_fmt(fc['speedup'])}x faster; max |diff| vs as shipped (L2 C=1, tol 1e-4) "
            f"{_fmt(fc['max_abs_diff_as_shipped'])}"
            + (
                f", vs unpenalised (C=inf, tol 1e-10, fit {_fmt(fc['unpenalised_fit_s'], ' s')}) "
                f"{_fmt(fc['max_abs_diff_unpenalised'])}"
                if "max_abs_diff_unpenalised" in fc
                else ""
            )
        )
    if "skipped" in ev:
        lines.append(f"evalica  : skipped ({ev['skipped']})")
    else:
        lines.append(
            f"evalica  : fit {_fmt(ev['fit_s'], ' s')} ({ev['iterations_default']} iterations at "
            f"tol 1e-6), {ROUNDS} bootstrap rounds ~{_fmt(ev['boot_s'], ' s')} (extrapolated "
            f"from {ev['boot_rounds_measured']} rounds = {_fmt(ev['boot_s_measured'], ' s')}); "
            f"ours is {_fmt(ev['speedup'])}x faster; max |diff| (evalica at tol 1e-12) "
            f"{_fmt(ev['max_abs_diff'])}"
        )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--compare",
        action="store_true",
        help="compare the library with FastChat and evalica (benchmark venv) instead of "
        "timing the command line",
    )
    cli = p.add_argument_group("command-line timing (default mode)")
    cli.add_argument("--models", type=int, default=100)
    cli.add_argument("--battles", type=int, default=1_000_000)
    cli.add_argument("--rounds", type=int, default=ROUNDS, help="bootstrap rounds")
    cli.add_argument(
        "--formats",
        default="parquet,jsonl",
        help="battle files to time, comma-separated from parquet, jsonl, csv; the first "
        "gives whole_process_s (default parquet,jsonl)",
    )
    cli.add_argument(
        "--reference",
        metavar="ROOT",
        help="also time the ratings package of this checkout (read only, e.g. /work/main)",
    )
    cli.add_argument(
        "--data-dir", help="write (and reuse) the battle files here instead of a temp dir"
    )
    cmp = p.add_argument_group("--compare mode")
    cmp.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated MODELSxBATTLES (default {DEFAULT_SIZES})",
    )
    cmp.add_argument(
        "--ref-rounds",
        type=int,
        default=20,
        help="most reference bootstrap rounds actually run (then extrapolated)",
    )
    cmp.add_argument(
        "--fastchat-max-gib",
        type=float,
        default=4.0,
        help="skip FastChat when its dense design matrix would exceed this",
    )
    cmp.add_argument("--no-fastchat", action="store_true")
    cmp.add_argument(
        "--no-unpenalised",
        action="store_true",
        help="skip the slow unpenalised FastChat accuracy fit",
    )
    cmp.add_argument("--no-evalica", action="store_true")
    p.add_argument(
        "--repeat",
        type=int,
        help="runs per case, best kept (default 3 for the command line, 1 for --compare)",
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="print the results as one JSON object on the last line (and write FILE)",
    )
    args = p.parse_args()
    if not args.compare:
        from ratings_cli_bench import main as cli_main

        args.repeat = args.repeat or 3
        out = cli_main(args)
        if args.json:
            if args.json != "-":
                Path(args.json).write_text(json.dumps(out, indent=2))
            print(json.dumps(out))
        return 0
    args.repeat = args.repeat or 1
    sizes = []
    for part in args.sizes.split(","):
        m, n = part.lower().split("x")
        sizes.append((int(m), int(float(n))))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}, 1-min load average {load:.2f} at start"
    )
    results = []
    for m, n in sizes:
        r = run_size(m, n, args)
        results.append(r)
        print(report(r), flush=True)
    if args.json:
        if args.json != "-":
            Path(args.json).write_text(json.dumps(results, indent=2))
        print(json.dumps({"sizes": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
