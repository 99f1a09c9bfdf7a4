"""Instant battles on real processes. The embedded default (SQLite, no Redis): a random-prompt
battle that finds no stock is generated live and has the web process's thread pool make the
stock; the next voter's random-prompt battle is ready in the POST's answer, served and voted
like any other. PostgreSQL + Redis + a Celery worker: load_demo has the worker make the stock
at start."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_ADMIN
from tests.live import LiveArena, Voter

pytestmark = pytest.mark.services

STOCK = 2


@pytest.fixture(scope="module")
def live_instant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(
        tmp_path_factory.mktemp("live-instant"),
        extra_env={"ARENA_INSTANT_BATTLES": "1", "ARENA_INSTANT_DEBOUNCE_S": "0.1"},
    )
    try:
        arena.start()
        arena.manage(
            "shell",
            "-c",
            "from arena.battles.models import Arena; "
            f"Arena.objects.filter(slug='text-to-image').update(instant_stock={STOCK}); "
            "Arena.objects.filter(slug='text-to-video').update(instant_stock=0)",
        )
        yield arena
    finally:
        arena.stop()


def ready_stock(arena: LiveArena) -> int:
    with sqlite3.connect(arena.workdir / "arena.sqlite3") as db:
        row = db.execute(
            "SELECT count(*) FROM battles_instantoutput WHERE status = 'ready' "
            "AND consumed_at IS NULL"
        ).fetchone()
    return int(row[0])


def random_battle(voter: Voter) -> dict:
    created = voter.post("/api/arenas/text-to-image/battles", {"random_prompt": True})
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_a_cold_arena_makes_its_stock_and_the_next_battle_opens_ready(
    live_instant: LiveArena,
) -> None:
    first = random_battle(Voter(live_instant))
    assert first["status"] in {"pending", "generating"}  # no stock yet: generated live
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and ready_stock(live_instant) < 2 * STOCK:
        time.sleep(0.3)
    assert ready_stock(live_instant) == 2 * STOCK, live_instant.logs()  # two per battle

    voter = Voter(live_instant)
    battle = random_battle(voter)
    assert battle["status"] == "ready", battle
    urls = [o["url"] for o in battle["outputs"]]
    assert all(urls) and len(set(urls)) == 2
    for url in urls:
        image = voter.get(url)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/webp"
    assert Voter(live_instant).get(urls[0]).status_code == 404  # only its voter's
    vote = voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "left"})
    assert vote.status_code == 200, vote.text
    assert vote.json()["left"]["name"].startswith("Demo ")


def test_the_worker_makes_the_stock_at_start_on_postgres_and_redis(
    tmp_path: Path, redis_url: str
) -> None:
    name = f"arena_live_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    arena = LiveArena(
        tmp_path,
        database_url=database_url,
        redis_url=redis_url,
        extra_env={"ARENA_INSTANT_BATTLES": "1"},
    )
    try:
        arena.start()  # load_demo queued the demo arenas' fills: nothing else asks for it
        deadline = time.monotonic() + 90
        query = (
            "SELECT count(*) FROM battles_instantoutput s JOIN battles_arena a "
            "ON a.id = s.arena_id WHERE a.slug = 'text-to-image' AND s.status = 'ready'"
        )
        made = 0
        while time.monotonic() < deadline and made < 2 * 6:  # 6 pre-drawn battles, 2 each
            with psycopg.connect(database_url) as conn:
                row = conn.execute(query).fetchone()
            made = int(row[0]) if row else 0
            time.sleep(0.5)
        assert made == 2 * 6, arena.logs()
        battle = random_battle(Voter(arena))
        assert battle["status"] == "ready", battle
    finally:
        arena.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
