"""No vote lost under faults, on real processes: a killed worker, Redis and PostgreSQL
restarted, and 200 concurrent clients voting with repeats. Figures are printed (-s or the
captured output of a failure) and written under bench/results when ARENA_FIGURES_DIR is set."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.faults.private_services import PrivatePostgres, PrivateRedis
from tests.faults.seed import ready_battles_command, session_cookie
from tests.figures import record
from tests.live import LiveArena, Voter

pytestmark = pytest.mark.services
SECRET = "fault-tests-secret-key-" + "x" * 40
NO_LIMITS = {
    "ARENA_RATE_VOTES_PER_VOTER": "0",
    "ARENA_RATE_VOTES_PER_ADDRESS": "0",
    "ARENA_RATE_BATTLES_PER_VOTER": "0",
    "ARENA_RATE_BATTLES_PER_ADDRESS": "0",
    "SECRET_KEY": SECRET,
}


def report(name: str, figures: dict[str, Any]) -> None:
    record(name, figures)


def seed(arena: LiveArena, count: int, voters: list[str]) -> list[str]:
    out = arena.manage("shell", "-c", ready_battles_command(count, voters))
    return json.loads(out.strip().splitlines()[-1])


class ForgedVoter:
    """A client holding a given voter's session, as the browser that created the battles."""

    def __init__(self, arena: LiveArena, voter_id: str) -> None:
        self.base = arena.base
        self.http = requests.Session()
        token = uuid.uuid4().hex  # 32 characters: a valid unmasked CSRF secret
        self.http.cookies.set("csrftoken", token)
        self.http.cookies.set("sessionid", session_cookie(voter_id, SECRET))
        self.headers = {"X-CSRFToken": token}

    def vote(self, battle_id: str, choice: str, key: str | None = None) -> requests.Response:
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        return self.http.post(
            f"{self.base}/api/battles/{battle_id}/vote",
            json={"choice": choice},
            headers=headers,
            timeout=60,
        )


def votes_in(database_url: str, battle_ids: list[str]) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM votes_vote WHERE battle_id = ANY(%s::uuid[])", (battle_ids,)
        ).fetchone()[0]


def pool_children(pid: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in done.stdout.split()]


def test_worker_process_killed_mid_generation_task_is_redelivered(
    tmp_path: Path, postgres_database: str, redis_url: str
) -> None:
    """SIGKILL the pool processes running both generations: late acknowledgement plus
    reject-on-worker-lost puts the tasks back and they complete; one output per side."""
    arena = LiveArena(
        tmp_path,
        database_url=postgres_database,
        redis_url=redis_url,
        provider_options={"delay_s": 4.0},
        extra_env=NO_LIMITS,
    )
    arena.start()
    try:
        voter = Voter(arena)
        battle = voter.post("/api/arenas/text-to-image/battles", {"prompt": "a kill test"}).json()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = voter.get(f"/api/battles/{battle['id']}").json()
            if state["status"] == "generating":
                break
            time.sleep(0.1)
        time.sleep(1.0)  # both sides are inside their 4 s generation now
        worker = dict(arena.procs)["worker"]
        children = pool_children(worker.pid)
        assert children
        for child in children:
            os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        ws = voter.socket(f"/ws/battles/{battle['id']}/")
        try:
            final = voter.follow_until(ws, {"ready", "failed"}, timeout=90)[-1]
        finally:
            ws.close()
        recovered_s = time.monotonic() - killed_at
        assert final["status"] == "ready", arena.logs()
        with psycopg.connect(postgres_database) as conn:
            attempts = [
                row[0]
                for row in conn.execute(
                    "SELECT attempts FROM battles_output WHERE battle_id = %s", (battle["id"],)
                )
            ]
        assert len(attempts) == 2 and max(attempts) >= 2  # redelivered, still one per side
        assert (
            voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "left"}).status_code == 200
        )
        report(
            "worker_sigkill",
            {
                "faults_injected": len(children),
                "battle_recovered": True,
                "attempts": attempts,
                "recovered_after_s": round(recovered_s, 1),
            },
        )
    finally:
        arena.stop()


def test_battle_stuck_after_a_dead_worker_is_failed_by_the_sweeper(
    tmp_path: Path, postgres_database: str, redis_url: str
) -> None:
    arena = LiveArena(
        tmp_path,
        database_url=postgres_database,
        redis_url=redis_url,
        provider_options={"delay_s": 6.0},
        extra_env={"ARENA_SWEEP_EVERY_S": "1", "ARENA_STALE_GRACE_S": "0", **NO_LIMITS},
    )
    arena.start()
    try:
        arena.manage(
            "shell",
            "-c",
            "from arena.battles.models import Arena; Arena.objects.update(generation_timeout_s=3)",
        )
        voter = Voter(arena)
        battle = voter.post("/api/arenas/text-to-image/battles", {"prompt": "stuck"}).json()
        time.sleep(1.0)
        # the whole worker dies: with the Redis broker its unacknowledged tasks come back only
        # after the visibility timeout (600 s here), so the sweeper must end the battle first
        worker = dict(arena.procs)["worker"]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        # a beat-only process: it runs the sweeper, no worker would redeliver in time
        arena._spawn(
            "beat",
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "arena",
                "worker",
                "-B",
                "-Q",
                "default",
                "-c",
                "1",
                "-l",
                "INFO",
                "-n",
                f"sweeper-{uuid.uuid4().hex[:6]}@%h",
                "--schedule",
                str(tmp_path / "beat-schedule"),
            ],
        )
        ws = voter.socket(f"/ws/battles/{battle['id']}/")
        try:
            final = voter.follow_until(ws, {"failed", "ready"}, timeout=60)[-1]
        finally:
            ws.close()
        assert final["status"] == "failed" and "took too long" in final["failure"]
        refused = voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "left"})
        assert refused.status_code == 409
        report("stuck_battle_sweeper", {"faults_injected": 1, "battle_failed_cleanly": True})
    finally:
        arena.stop()


def test_votes_succeed_while_redis_is_down_and_live_updates_resume(
    tmp_path: Path, postgres_database: str, private_redis: PrivateRedis
) -> None:
    # rate limits stay on: with Redis down the limiter must let votes through
    arena = LiveArena(
        tmp_path,
        database_url=postgres_database,
        redis_url=private_redis.url,
        extra_env={
            **NO_LIMITS,
            "ARENA_RATE_VOTES_PER_VOTER": "1000",
            "ARENA_RATE_VOTES_PER_ADDRESS": "1000",
        },
    )
    arena.start()
    try:
        voters = [uuid.uuid4().hex for _ in range(4)]
        ids = seed(arena, 40, voters)
        clients = {v: ForgedVoter(arena, v) for v in voters}
        owner = {bid: voters[i % len(voters)] for i, bid in enumerate(ids)}
        sent = accepted = 0

        private_redis.stop()
        for bid in ids[:20]:
            sent += 1
            response = clients[owner[bid]].vote(bid, "left")
            assert response.status_code == 200, response.text
            accepted += 1
        private_redis.start()

        listener = Voter(arena)
        board = listener.socket("/ws/arenas/text-to-image/leaderboard/")
        try:
            for bid in ids[20:]:
                sent += 1
                assert clients[owner[bid]].vote(bid, "right").status_code == 200
                accepted += 1
            pushed = json.loads(board.recv())
        finally:
            board.close()
        assert pushed["type"] == "leaderboard"
        stored = votes_in(postgres_database, ids)
        assert stored == accepted == sent == 40
        report(
            "redis_restart",
            {
                "faults_injected": 1,
                "votes_sent": sent,
                "votes_accepted": accepted,
                "votes_stored": stored,
                "votes_lost": accepted - stored,
                "votes_while_redis_down": 20,
                "live_push_after_restart": True,
            },
        )
    finally:
        arena.stop()


def test_postgres_restart_gives_503_then_one_vote_with_the_same_idempotency_key(
    tmp_path: Path, private_postgres: PrivatePostgres, redis_url: str
) -> None:
    arena = LiveArena(
        tmp_path, database_url=private_postgres.url, redis_url=redis_url, extra_env=NO_LIMITS
    )
    arena.start()
    try:
        voter_id = uuid.uuid4().hex
        ids = seed(arena, 3, [voter_id])
        client = ForgedVoter(arena, voter_id)
        assert client.vote(ids[0], "left").status_code == 200  # a warm connection

        private_postgres.stop()
        down = client.vote(ids[1], "right", key="retry-key-1")
        assert down.status_code == 503, down.text
        assert down.headers["Retry-After"]
        assert "retry" in down.json()["error"]["message"].lower()
        private_postgres.start()

        retried = client.vote(ids[1], "right", key="retry-key-1")
        assert retried.status_code == 200, retried.text
        again = client.vote(ids[1], "right", key="retry-key-1")
        assert again.status_code == 200 and again.json()["replayed"] is True
        other_key = client.vote(ids[1], "left", key="another-key")
        assert other_key.status_code == 409
        with psycopg.connect(private_postgres.url) as conn:
            stored = conn.execute(
                "SELECT count(*) FROM votes_vote WHERE battle_id = %s", (ids[1],)
            ).fetchone()[0]
        assert stored == 1
        report(
            "postgres_restart",
            {
                "faults_injected": 1,
                "status_while_down": 503,
                "retries": 3,
                "votes_stored_for_battle": stored,
            },
        )
    finally:
        arena.stop()


def test_200_concurrent_clients_voting_on_1000_battles_lose_nothing(
    tmp_path: Path, private_postgres: PrivatePostgres, redis_url: str
) -> None:
    arena = LiveArena(
        tmp_path, database_url=private_postgres.url, redis_url=redis_url, extra_env=NO_LIMITS
    )
    arena.start()
    try:
        voters = [uuid.uuid4().hex for _ in range(200)]
        ids = seed(arena, 1000, voters)
        owner = {bid: voters[i % 200] for i, bid in enumerate(ids)}
        results: dict[str, list[int]] = {}
        lock = threading.Lock()
        barrier = threading.Barrier(200)

        def client(voter_id: str) -> None:
            me = ForgedVoter(arena, voter_id)
            mine = [bid for bid in ids if owner[bid] == voter_id]
            barrier.wait()
            for bid in mine + mine[::-1]:  # every battle twice: a repeat after the first
                status = me.vote(bid, "tie").status_code
                with lock:
                    results.setdefault(bid, []).append(status)

        threads = [threading.Thread(target=client, args=(v,)) for v in voters]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        elapsed = time.monotonic() - started
        statuses = [s for codes in results.values() for s in codes]
        accepted = statuses.count(200)
        stored = votes_in(private_postgres.url, ids)
        assert all(sorted(codes) == [200, 409] for codes in results.values()), results
        assert accepted == stored == 1000
        report(
            "concurrent_votes",
            {
                "clients": 200,
                "battles": 1000,
                "votes_sent": len(statuses),
                "votes_accepted": accepted,
                "conflicts_409": statuses.count(409),
                "votes_stored": stored,
                "votes_lost": accepted - stored,
                "seconds": round(elapsed, 1),
                "requests_per_s": round(len(statuses) / elapsed, 1),
            },
        )
    finally:
        arena.stop()
