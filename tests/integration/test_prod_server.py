"""`make prod`'s launcher (scripts/prod.sh) on PostgreSQL + Redis: it serves HTTP and
WebSockets on one port through several granian processes, runs the Celery workers and beat,
reports health, sums the metrics of every process, and stops cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_live_battle import check_battle_and_vote
from tests.live import ROOT, LiveArena

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def prod(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: str, redis_url: str
) -> Iterator[LiveArena]:
    arena = LiveArena(
        tmp_path_factory.mktemp("prod"),
        database_url=postgres_database,
        redis_url=redis_url,
        server="prod",
        extra_env={"ARENA_HEARTBEAT_S": "1", "ARENA_LEADERBOARD_DEBOUNCE_S": "0.5"},
    )
    arena.start()
    try:
        yield arena
    finally:
        arena.stop()


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def wait_healthy(base: str, timeout: float = 60, queues: tuple[str, ...] = ()) -> dict:
    """/healthz once it is 200 and every queue in `queues` has a live worker (the workers
    start together but their first heartbeats land a moment apart)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = requests.get(base + "/healthz", timeout=10)
        body = {"code": answer.status_code, **answer.json()}
        live = body.get("checks", {}).get("workers", {}).get("live", {})
        ready = answer.status_code == 200 and all(live.get(q, 0) >= 1 for q in queues)
        if ready or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_prod_serves_battles_votes_and_websockets_through_several_processes(
    prod: LiveArena,
) -> None:
    health = wait_healthy(prod.base, queues=("default", "remote"))
    assert health["code"] == 200, (health, prod.logs())
    assert health["checks"]["workers"]["live"]["default"] >= 1
    assert health["checks"]["workers"]["live"]["remote"] >= 1
    assert health["checks"]["database"]["vendor"] == "postgresql"

    played = check_battle_and_vote(prod)  # HTTP, the WebSocket push, the vote, the refresh

    # Generation ran in a Celery process, the vote in a web process, the refresh in a worker:
    # one scrape of one web process shows them all (multiprocess collection).
    slug = "text-to-image"
    deadline = time.monotonic() + 30
    while True:
        text = requests.get(prod.base + "/metrics", timeout=10).text
        refreshed = samples(text, "arena_leaderboard_refresh_seconds_count")
        if refreshed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    votes = samples(text, "arena_votes_total")
    assert votes[(("arena", slug), ("counted", "yes"))] == 1, text
    assert samples(text, "arena_battles_total")[(("arena", slug),)] == 1
    generated = samples(text, "arena_generation_seconds_count")
    assert generated[(("kind", "demo"), ("outcome", "ok"))] == 2, text
    assert refreshed[(("arena", slug), ("outcome", "ok"))] >= 1, text
    assert samples(text, "arena_queue_depth")[(("queue", "default"),)] == 0
    assert played["revealed"]["left"]["name"].startswith("Demo ")


def test_prod_runs_production_settings_with_hashed_immutable_static_files(prod: LiveArena) -> None:
    page = requests.get(prod.base + "/", timeout=10)
    assert page.status_code == 200
    css = re.search(r"/static/arena/arena\.[0-9a-f]{12}\.css", page.text)
    assert css, page.text[:500]
    static = requests.get(prod.base + css.group(0), headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert static.status_code == 200
    assert "immutable" in static.headers["Cache-Control"]
    assert static.headers.get("Content-Encoding") == "gzip"
    # DEBUG is off: an unknown page is a plain 404, never Django's debug page
    missing = requests.get(prod.base + "/no-such-page", timeout=10)
    assert missing.status_code == 404 and "URLconf" not in missing.text
    # several web processes really serve the port
    workers = subprocess.run(
        ["pgrep", "-f", f"granian.*--port {prod.port}"], capture_output=True, text=True
    ).stdout.split()
    assert len(workers) >= 3, workers  # the granian main process and two workers


def test_prod_launcher_refuses_to_start_without_postgres_or_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["ARENA_VAR_DIR"] = str(tmp_path)
    done = subprocess.run(
        ["bash", "scripts/prod.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and "DATABASE_URL is not set" in done.stderr
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/x"
    done = subprocess.run(
        ["bash", "scripts/prod.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and "REDIS_URL is not set" in done.stderr


def test_prod_stops_cleanly_leaving_no_process(prod: LiveArena) -> None:
    """Runs last in this module: SIGTERM to the launcher stops every process it started."""
    assert requests.get(prod.base + "/livez", timeout=10).text == "ok\n"
    killed = prod.stop()
    assert killed == [], prod.logs()
    with pytest.raises(requests.ConnectionError):
        requests.get(prod.base + "/livez", timeout=5)
