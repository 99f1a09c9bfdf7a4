"""The whole battle path on real processes: PostgreSQL + Redis + a Celery worker, and the
embedded default (SQLite, no Redis, generation inside the web process)."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.live import LiveArena, Voter

pytestmark = pytest.mark.services


def play_one_battle(arena: LiveArena) -> tuple[Voter, dict, list[dict]]:
    voter = Voter(arena)
    created = voter.post("/api/arenas/text-to-image/battles", {"prompt": "a lighthouse at dusk"})
    assert created.status_code == 201, created.text
    battle = created.json()
    ws = voter.socket(f"/ws/battles/{battle['id']}/")
    try:
        states = voter.follow_until(ws, {"ready", "failed"})
    finally:
        ws.close()
    return voter, battle, states


def check_battle_and_vote(arena: LiveArena) -> dict:
    voter, battle, states = play_one_battle(arena)
    ready = states[-1]
    assert ready["status"] == "ready", arena.logs()
    # the first state arrived while generating: "ready" was pushed later through the layer
    assert states[0]["status"] in {"pending", "generating"}
    urls = [o["url"] for o in ready["outputs"]]
    assert all(urls) and len(set(urls)) == 2
    for url in urls:
        image = voter.get(url)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/webp"
    board_url = "/api/arenas/text-to-image/leaderboard"
    before = {r["model"]: r for r in voter.get(board_url).json()["rows"]}
    vote = voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "left"})
    assert vote.status_code == 200, vote.text
    revealed = vote.json()
    assert revealed["left"]["name"].startswith("Demo ")
    assert revealed["right"]["name"].startswith("Demo ")
    again = voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "right"})
    assert again.status_code == 409
    # the debounced refresh (a Celery task, or a thread in the embedded default) lands soon
    winner = revealed["left"]["name"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        top = {row["model"]: row for row in voter.get(board_url).json()["rows"]}
        if top[winner]["votes"] == before[winner]["votes"] + 1:
            break
        time.sleep(0.3)
    assert top[winner]["votes"] == before[winner]["votes"] + 1, arena.logs()
    # a handful of votes: the model is provisional (no rating, no rank); the live Elo moved
    assert top[winner]["provisional"] is True and top[winner]["rank"] is None
    assert top[winner]["rating"] is None
    assert top[winner]["elo"] > before[winner]["elo"]
    return {"battle": battle, "revealed": revealed}


def test_battle_reaches_ready_through_a_celery_worker_on_postgres_and_redis(
    live_pg_redis: LiveArena, postgres_database: str
) -> None:
    result = check_battle_and_vote(live_pg_redis)
    with psycopg.connect(postgres_database) as conn:
        row = conn.execute(
            "SELECT choice, b.status FROM votes_vote v JOIN battles_battle b ON b.id = v.battle_id"
            " WHERE b.id = %s",
            (result["battle"]["id"],),
        ).fetchone()
    assert row == ("left", "voted")
    worker_log = (live_pg_redis.workdir / "worker.log").read_text()
    assert "output_generate_task" in worker_log and "succeeded" in worker_log


def test_leaderboard_socket_receives_the_new_board_after_a_vote(live_pg_redis: LiveArena) -> None:
    voter, battle, states = play_one_battle(live_pg_redis)
    board_ws = voter.socket("/ws/arenas/text-to-image/leaderboard/")
    try:
        assert voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "tie"}).status_code == 200
        import json

        message = json.loads(board_ws.recv())
    finally:
        board_ws.close()
    assert message["type"] == "leaderboard" and "" in message["board"]["categories"]
    assert voter.get("/api/arenas/text-to-image/leaderboard").json()["votes"] >= 1


def test_a_stranger_cannot_follow_my_battle(live_pg_redis: LiveArena) -> None:
    import websocket

    _, battle, _ = play_one_battle(live_pg_redis)
    stranger = Voter(live_pg_redis)
    with pytest.raises(websocket.WebSocketException):
        ws = stranger.socket(f"/ws/battles/{battle['id']}/")
        ws.recv()


def test_embedded_default_runs_the_same_flow_on_sqlite_without_redis(
    live_embedded: LiveArena,
) -> None:
    check_battle_and_vote(live_embedded)
    assert (live_embedded.workdir / "arena.sqlite3").exists()
    assert not (live_embedded.workdir / "worker.log").exists()


def test_a_playground_generation_runs_through_the_celery_worker(
    live_pg_redis: LiveArena,
) -> None:
    voter = Voter(live_pg_redis)
    model = voter.get("/api/arenas/text-to-image/models").json()[0]
    created = voter.post(
        "/api/arenas/text-to-image/generations",
        {"model": model["id"], "prompt": "a harbour at dawn", "params": {"aspect_ratio": "16:9"}},
    )
    assert created.status_code == 201, created.text
    generation_id = created.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = voter.get(f"/api/generations/{generation_id}").json()
        if state["status"] in {"ready", "failed"}:
            break
        time.sleep(0.2)
    assert state["status"] == "ready", live_pg_redis.logs()
    assert state["model"]["name"] == model["name"]
    image = voter.get(state["url"])
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/webp"
    stranger = Voter(live_pg_redis)
    assert stranger.get(f"/api/generations/{generation_id}").status_code == 404
    assert stranger.get(state["url"]).status_code == 404
    worker_log = (live_pg_redis.workdir / "worker.log").read_text()
    assert "generation_run_task" in worker_log
