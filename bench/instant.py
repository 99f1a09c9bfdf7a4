"""Instant battles benchmark: a random-prompt battle in a warm demo arena, POST -> "ready".

Starts a real deployment as bench/load.py does (its own PostgreSQL database, Redis key prefix
and port; the `make prod` layout by default, or daphne + one Celery worker with
`--server daphne`), turns instant battles on (ARENA_INSTANT_BATTLES=1), gives the demo
text-to-image arena a stock of STOCK pre-drawn battles (two outputs each) and waits until the
workers have made it. Then, one battle at a time, each by a new voter, it measures COUNT
random-prompt battles from the POST until "ready" arrives on the battle's WebSocket
(bench/load.py's `one_battle`), first with instant battles on, then with them off (the arena's
stock set to 0: live generation) as the reference of the same run. Prints a table, and with
--json one JSON object last:

  instant_battle_p50_ms, instant_battle_p95_ms   instant on (warm stock)
  live_battle_p50_ms, live_battle_p95_ms         instant off, same arena, same run
  stock_hits, stock_misses                       battles of the instant run that took stock
                                                 (a miss is generated live, and timed too)

  .venv/bin/python bench/instant.py --json                 # ~1.5 minutes
  .venv/bin/python bench/instant.py --server daphne --json

Environment: ARENA_BENCH_PG_ADMIN, ARENA_BENCH_REDIS_URL as for bench/load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.load import (  # noqa: E402
    BENCH_SERVER_ENV,
    SLUG,
    bench_database_create,
    figures_print,
    one_battle,
    percentile,
)
from tests.live import LiveArena  # noqa: E402

RANDOM = {"random_prompt": True}


async def measure_voters(base: str, count: int) -> list[tuple[str, float, float]]:
    """`count` random-prompt battles one after another, each by a new voter (its own session
    cookie, fetched before the clock starts): a voter never gets a prompt twice, so one
    voter's many battles would measure the bank's size, not the stock."""
    results = []
    for _ in range(count):
        async with aiohttp.ClientSession(
            base,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=120),
        ) as http:
            async with http.get("/api/arenas") as answer:  # the csrftoken cookie
                await answer.read()
            result = await one_battle(http, base, RANDOM)
            if result:
                results.append(result)
    return results


def set_stock(arena: LiveArena, stock: int) -> None:
    """The demo image arena's stock (pre-drawn battles), and a fill queued for the workers
    now."""
    arena.manage(
        "shell",
        "-c",
        (
            "from arena.battles.models import Arena; "
            "from arena.battles.instant import instant_stock_fill; "
            f"Arena.objects.filter(slug={SLUG!r}).update(instant_stock={stock}); "
            f"instant_stock_fill(arena_id=Arena.objects.get(slug={SLUG!r}).pk)"
        ),
    )


def stock_ready(database_url: str) -> tuple[int, int]:
    """(pre-drawn battles ready: both outputs made, outputs still being made)."""
    with psycopg.connect(database_url) as conn:
        arena_id = conn.execute("SELECT id FROM battles_arena WHERE slug = %s", (SLUG,)).fetchone()
        assert arena_id is not None
        ready = conn.execute(
            "SELECT count(*) FROM (SELECT draw FROM battles_instantoutput "
            "WHERE arena_id = %s AND consumed_at IS NULL AND status = 'ready' "
            "AND draw IS NOT NULL GROUP BY draw HAVING count(*) = 2) d",
            (arena_id[0],),
        ).fetchone()
        making = conn.execute(
            "SELECT count(*) FROM battles_instantoutput "
            "WHERE status IN ('pending', 'generating') AND consumed_at IS NULL"
        ).fetchone()
    return int(ready[0] if ready else 0), int(making[0] if making else 0)


def wait_warm(database_url: str, stock: int, timeout: float) -> float:
    """Wait until `stock` pre-drawn battles are ready and nothing is being made (a render in
    the worker would be timed with the battles otherwise); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        ready, making = stock_ready(database_url)
        if ready >= stock and making == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"the stock was not made in {timeout:.0f}s: {stock_ready(database_url)}")


def stock_taken(database_url: str, battle_ids: list[str]) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT consumed_by_id) FROM battles_instantoutput "
            "WHERE consumed_by_id = ANY(%s::uuid[])",
            (battle_ids,),
        ).fetchone()
    return int(row[0] if row else 0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    pg_admin, redis_url, name, database_url = bench_database_create()
    env = {
        **BENCH_SERVER_ENV,
        "ARENA_INSTANT_BATTLES": "1",
        # the bench's voters make battles faster than any person: no budget per voter
        "ARENA_RATE_BATTLES_PER_VOTER": "0",
        "ARENA_RATE_BATTLES_PER_ADDRESS": "0",
        "WEB_WORKERS": "2",
        "WORKER_CONCURRENCY": "2",
        "REMOTE_CONCURRENCY": "2",
    }
    workdir = Path(tempfile.mkdtemp(prefix="arena-instant-"))
    arena = LiveArena(
        workdir,
        database_url=database_url,
        redis_url=redis_url,
        provider_options={"delay_s": 0.0},
        extra_env=env,
        server=args.server,
    )
    figures: dict[str, Any] = {"server": args.server, "load_before": os.getloadavg()[0]}
    try:
        arena.start()
        base = arena.base
        set_stock(arena, args.stock)
        figures["warm_up_s"] = wait_warm(database_url, args.stock, timeout=300)

        fast = asyncio.run(measure_voters(base, args.count))
        hits = stock_taken(database_url, [battle_id for battle_id, _, _ in fast])
        figures["instant_battle_p50_ms"] = percentile([s for _, s, _ in fast], 50) * 1000
        figures["instant_battle_p95_ms"] = percentile([s for _, s, _ in fast], 95) * 1000
        figures["stock_hits"] = hits
        figures["stock_misses"] = args.count - hits

        set_stock(arena, 0)  # instant off: every battle generated live
        wait_warm(database_url, 0, timeout=120)  # a refill still running would be timed
        live = asyncio.run(measure_voters(base, args.count))
        figures["live_battle_p50_ms"] = percentile([s for _, s, _ in live], 50) * 1000
        figures["live_battle_p95_ms"] = percentile([s for _, s, _ in live], 95) * 1000
        figures["live_battles_ok"] = len(live)
        figures["load_after"] = os.getloadavg()[0]
    finally:
        killed = arena.stop()
        if killed:
            figures["unclean_stop"] = killed
        shutil.rmtree(workdir, ignore_errors=True)
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON last")
    parser.add_argument("--server", choices=("prod", "daphne"), default="prod")
    parser.add_argument("--count", type=int, default=40, help="battles per run (each mode)")
    parser.add_argument("--stock", type=int, default=40, help="pre-drawn battles kept ready")
    args = parser.parse_args()
    started = time.perf_counter()
    figures = run(args)
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    figures_print(figures, as_json=args.json)


if __name__ == "__main__":
    main()
