"""Instant battles on the embedded default (SQLite, no Redis): a random-prompt battle that finds
no stock is generated live and has the web process's thread pool make the stock; the next
voter's random-prompt battle is ready in the POST's answer, served and voted like any other."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest

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
    while time.monotonic() < deadline and ready_stock(live_instant) < 5 * STOCK:
        time.sleep(0.3)
    assert ready_stock(live_instant) == 5 * STOCK, live_instant.logs()  # 5 demo models

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
