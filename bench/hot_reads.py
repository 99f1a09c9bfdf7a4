"""CPU per call of the hot paths' reads: the prepared reads of `arena.rows` against the ORM
queries they replaced, in the same process, on the same rows (issue 10, fifth round).

A side's claim and finish, the battle's WebSocket state, the arena and the sampler's
contenders are read on every battle. Building those reads with the ORM (`select_related`,
`prefetch_related`, `QuerySet.update`) cost more Python time than PostgreSQL took to run them;
`arena.rows` writes each statement once per process and runs it prepared. This benchmark
times both forms call by call (CPU time of this process: the client's side of each read, which
is what a web or worker process spends) and prints the ratios, which hold on a busy machine
where wall times do not.

  .venv/bin/python bench/hot_reads.py --json     # ~30 s

Creates its own PostgreSQL database (ARENA_BENCH_PG_ADMIN, default
postgres://postgres@127.0.0.1:5432/postgres), loads the demo arenas and `--battles` pending
battles, measures, and drops the database. Figures (`--json`: one JSON object last):
`<read>_orm_ms`, `<read>_prepared_ms` (CPU ms per call) and `<read>_orm_vs_prepared` for
battle_get, claim (both UPDATEs and the read), finish_read (locked, in a transaction),
arena_get and contenders_playing; `battle_create_ms` (the whole service, for scale).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import BENCH_SERVER_ENV, bench_database_create  # noqa: E402


def cpu_ms(call: Callable[[Any], object], items: Iterable[Any]) -> float:
    """CPU milliseconds per call (this process), best of three passes over `items`."""
    items = list(items)
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for item in items:
            call(item)
        best = min(best, (time.process_time() - started) / len(items) * 1000)
    return best


def measure(battles: int) -> dict[str, float]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import F, Prefetch, Subquery, Value, prefetch_related_objects
    from django.db.models.functions import Coalesce
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("load_demo", verbosity=0)

    from arena.battles import generation, selectors, services
    from arena.battles.models import (
        Arena,
        Battle,
        BattleStatus,
        Contender,
        Output,
        OutputStatus,
    )

    on_commit = transaction.on_commit
    transaction.on_commit = lambda *args, **kwargs: None  # pending battles: nothing queued
    try:
        made = [
            services.battle_create(
                arena_slug="text-to-image", voter_id=f"v{i}", prompt_text=f"a lighthouse {i}"
            )
            for i in range(battles)
        ]
        started = time.process_time()
        for i in range(battles):
            services.battle_create(
                arena_slug="text-to-image", voter_id=f"w{i}", prompt_text=f"a harbour {i}"
            )
        create_ms = (time.process_time() - started) / battles * 1000
    finally:
        transaction.on_commit = on_commit
    arena = Arena.objects.get(slug="text-to-image")
    firsts = [min(o.pk for o in b.outputs.all()) for b in made]

    # The ORM forms these reads had before arena.rows (the code of 1198bc9).
    def orm_battle_get(battle_id: object) -> Battle | None:
        return (
            Battle.objects.select_related("arena", "prompt", "left", "right")
            .prefetch_related(Prefetch("outputs", queryset=Output.objects.order_by("side")))
            .filter(pk=battle_id)
            .first()
        )

    def orm_battle_of_output(output_id: int, *, lock: bool) -> Battle | None:
        battles_ = Battle.objects.select_for_update(of=("self",)) if lock else Battle.objects
        battle = battles_.select_related("arena", "prompt").filter(outputs__pk=output_id).first()
        outputs = (
            Output.objects.select_for_update(of=("self",)) if lock else Output.objects
        ).select_related("contender__provider")
        prefetch_related_objects([battle], Prefetch("outputs", queryset=outputs.order_by("pk")))
        return battle

    def orm_claim(output_id: int) -> object:
        running = Battle.objects.filter(status__in=(BattleStatus.PENDING, BattleStatus.GENERATING))
        Output.objects.filter(pk=output_id, battle_id__in=running.values("pk")).exclude(
            status__in=(OutputStatus.READY, OutputStatus.FAILED)
        ).update(
            status=OutputStatus.GENERATING,
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), Value(timezone.now())),
        )
        of_output = Output.objects.filter(pk=output_id).values("battle_id")[:1]
        Battle.objects.filter(pk=Subquery(of_output), status=BattleStatus.PENDING).update(
            status=BattleStatus.GENERATING
        )
        return orm_battle_of_output(output_id, lock=False)

    def locked(read: Callable[[int], object]) -> Callable[[int], object]:
        def run(output_id: int) -> object:
            with transaction.atomic():
                return read(output_id)

        return run

    def orm_contenders(_: object) -> list[Contender]:
        return list(
            Contender.objects.filter(
                arenas=arena, enabled=True, provider__enabled=True, paused_at__isnull=True
            )
            .select_related("provider")
            .order_by("pk")
        )

    ids = [b.pk for b in made]
    pairs: dict[str, tuple[Callable[[Any], object], Callable[[Any], object], list[Any]]] = {
        "battle_get": (orm_battle_get, lambda pk: selectors.battle_get(battle_id=pk), ids),
        # every pass claims the side again (as a redelivered task would) and finds its battle
        # already generating: both forms run the same statements on the same rows
        "claim": (orm_claim, generation._claim, firsts),
        "finish_read": (
            locked(lambda pk: orm_battle_of_output(pk, lock=True)),
            locked(lambda pk: selectors.battle_of_output(pk, lock=True)),
            firsts,
        ),
        "arena_get": (
            lambda _: Arena.objects.filter(slug="text-to-image", is_active=True).first(),
            lambda _: selectors.arena_get(slug="text-to-image"),
            ids,
        ),
        "contenders_playing": (
            orm_contenders,
            lambda _: selectors.contenders_playing(arena=arena),
            ids,
        ),
    }
    figures: dict[str, float] = {"battles": battles, "battle_create_ms": round(create_ms, 3)}
    for name, (orm, prepared, items) in pairs.items():
        prepared(items[0]), orm(items[0])  # both forms built and prepared once
        orm_ms, prepared_ms = cpu_ms(orm, items), cpu_ms(prepared, items)
        figures[f"{name}_orm_ms"] = round(orm_ms, 3)
        figures[f"{name}_prepared_ms"] = round(prepared_ms, 3)
        figures[f"{name}_orm_vs_prepared"] = round(orm_ms / prepared_ms, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON last")
    parser.add_argument("--battles", type=int, default=200)
    args = parser.parse_args()
    pg_admin, _, name, database_url = bench_database_create()
    os.environ.update(BENCH_SERVER_ENV)
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "arena.settings"
    os.environ["ARENA_RATE_BATTLES_PER_VOTER"] = "0"
    os.environ["ARENA_RATE_BATTLES_PER_ADDRESS"] = "0"
    try:
        figures = {"load_avg_1m": round(os.getloadavg()[0], 2), **measure(args.battles)}
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:>{width}}  {value}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
