"""Load benchmark: votes, battles and leaderboards against a real deployment on this machine.

Starts what it needs on its own PostgreSQL database, Redis key prefix and port (the `make prod`
layout by default, or daphne + one Celery worker as `make run` does with `--server daphne`),
loads the demo contenders, measures, stops everything and drops the database. Prints a table,
and with --json the figures as JSON on the last line:

  noop_per_s               GET /livez (no database, no cache) through the same server and client
  insert_per_s             a plain psycopg single-row INSERT loop (autocommit) on the same server
  votes_per_s, vote_p50_ms, vote_p99_ms
                           POST /api/battles/{id}/vote on pre-made ready battles, each voter with
                           its own session cookie and CSRF token, CONCURRENCY clients at once
  votes_lost               votes answered 200 minus votes found in the database at the end
  votes_vs_noop, votes_vs_insert
  vote_open_p50_ms, vote_open_p99_ms, vote_open_per_s
                           the same vote sent at OPEN_RATE (500) a second on a fixed schedule
                           (an open loop, as visitors arrive), latency from each vote's slot;
                           vote_open_late_sends: votes sent late because every connection was
                           busy (0: the figures are the open loop's own)
  battle_overhead_p50_ms   concurrency 1: POST a battle -> "ready" on its WebSocket, minus the
                           slower side's own generation time (its recorded latency_s)
  battle_overhead_remote_p50_ms
                           the same with two remote models: an OpenAI-format fake on 127.0.0.1
                           (its own process) answering the demo's pictures after 150 ms
  battle_p50_ms_c16        the same at 16 clients at once (POST -> ready, not minus anything)
  leaderboard_p95_ms, api_leaderboard_p95_ms
                           GET the leaderboard page / API at 8 clients at once
  noop_cpu_ms, vote_cpu_ms, battle_cpu_ms_c16
                           CPU milliseconds per request (per battle) from /proc: web processes,
                           Celery workers, PostgreSQL backends of the bench database, total;
                           steady where rates swing with the machine's other load
  votes_vs_noop_cpu        noop_cpu_ms.total / vote_cpu_ms.total (the ratio when CPU-bound)
  battle_stages_c1_ms      where a concurrency-1 battle's time goes (POST to row, queue hop,
                           the slower side's worker time beyond its render, the push)

The first votes and battles of a fresh server (pool connections opening, statements being
prepared, each worker process importing its codecs) are sent first and not measured.
The no-op and vote loads are sent by wrk (Debian's `wrk`, with bench/load_votes.lua) when it is
installed (`apt-get install -y wrk`, or pass --install-wrk), else by an asyncio client
(aiohttp, which tops out near 1,500 requests/s here and would hide the server's ceiling);
battles and leaderboards by the asyncio client (WebSockets).
On a 2-core machine the client shares the CPU with the server, as every figure here does, so
compare figures of the same run (the ratios).

  .venv/bin/python bench/load.py --json                 # ~3 minutes
  .venv/bin/python bench/load.py --quick --json         # ~1.5 minutes
  .venv/bin/python bench/load.py --server daphne --json # the single daphne process of make run

Environment: ARENA_BENCH_PG_ADMIN (default postgres://postgres@127.0.0.1:5432/postgres),
ARENA_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0; keys under a fresh prefix, deleted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import redis
from yarl import URL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import LiveArena  # noqa: E402

SLUG = "text-to-image"
# The demo provider's own sleep. 0: its side's latency is its render time, which the output
# records (latency_s) and the overhead figure subtracts; a sleep would only hold a prefork slot.
DELAY_S = 0.0
# Production settings for a benchmark's server, HTTPS aside (it is reached over plain HTTP on
# 127.0.0.1); each benchmark adds what it measures.
BENCH_SERVER_ENV = {
    "LOG_LEVEL": "WARNING",
    "SECRET_KEY": "bench-" + "k" * 50,
    "DEBUG": "0",
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_COOKIES": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
}
# Votes sent before the measured burst (not counted): a fresh server's first requests open
# pool connections and prepare statements, which a long-running server does once.
WARMUP_VOTES = 2000
WARMUP_S = 2.0
WARMUP_BATTLES = 4
# Battles at concurrency 1 (demo, then remote): their median is the overhead figure. The demo
# pairs 5 styles at random and a side's normalising costs 1-4 encodes by style, so 15 battles
# gave medians 20 ms apart from run to run.
C1_BATTLES = 40
C1_BATTLES_QUICK = 10
# Votes a second in the open-loop run (the aim for the vote rate).
OPEN_RATE = 500.0
OPEN_CONNECTIONS = 64  # enough that a free connection is there at each scheduled time


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- Setup ------------------------------------------------------------------------------------
SEED = """
import json, random, uuid
from django.conf import settings
from django.core import signing
from django.contrib.sessions.serializers import JSONSerializer
from django.db import transaction
from django.utils import timezone
from arena.battles.models import Arena, Battle, BattleStatus, Output, OutputStatus, Prompt
from arena.battles.models import prompt_hash
arena = Arena.objects.get(slug=%(slug)r)
contenders = list(arena.contenders.all())
rng = random.Random(7)
voters = [uuid.uuid4().hex for _ in range(%(voters)d)]
now = timezone.now()
with transaction.atomic():
    prompts = Prompt.objects.bulk_create(
        [Prompt(text=f"bench prompt {i}", text_hash=prompt_hash(f"bench prompt {i}"),
                modality=arena.modality) for i in range(%(count)d)], batch_size=5000)
    battles = []
    for i, prompt in enumerate(prompts):
        left, right = rng.sample(contenders, 2)
        battles.append(Battle(arena=arena, prompt=prompt, left=left, right=right,
                              voter_id=voters[i %% len(voters)], seed=i,
                              status=BattleStatus.READY, ready_at=now))
    Battle.objects.bulk_create(battles, batch_size=5000)
    Output.objects.bulk_create(
        [Output(battle=b, side=side, contender=b.left if side == "left" else b.right,
                status=OutputStatus.READY, content_type="image/webp", width=512, height=512,
                latency_s=0.5)
         for b in battles for side in ("left", "right")], batch_size=5000)
cookie = {v: signing.dumps({"arena_voter_id": v}, compress=True,
                           salt="django.contrib.sessions.backends.signed_cookies",
                           serializer=JSONSerializer) for v in voters}
print(json.dumps([[str(b.pk), cookie[b.voter_id]] for b in battles]))
"""


def seed_ready_battles(arena: LiveArena, count: int, voters: int) -> list[tuple[str, str]]:
    out = arena.manage("shell", "-c", SEED % {"slug": SLUG, "count": count, "voters": voters})
    return [tuple(pair) for pair in json.loads(out.strip().splitlines()[-1])]


def insert_loop(database_url: str, seconds: float) -> float:
    """Single-row INSERTs, each its own transaction, on one connection."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, "
            "battle uuid NOT NULL, choice text NOT NULL, at timestamptz NOT NULL)"
        )
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            conn.execute(
                "INSERT INTO bench_insert (battle, choice, at) VALUES (%s, %s, now())",
                (uuid.uuid4(), "left"),
            )
            done += 1
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_insert")
    return done / elapsed


# --- Load -------------------------------------------------------------------------------------
WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_run(
    url: str,
    seconds: float,
    concurrency: int,
    *,
    script: str = "",
    script_args: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Closed-loop load with wrk; requests, 2xx answers, rate and latency percentiles."""
    argv = ["wrk", "-t2", f"-c{concurrency}", f"-d{int(seconds)}s", "--latency", "--timeout", "30s"]
    if script:
        argv += ["-s", script]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 90).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s)", out)
    if not total:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests = int(total.group(1))
    elapsed = float(total.group(2)) * WRK_UNITS[total.group(3)] / 1000
    late = re.search(r"late_sends (\d+) lag_max_ms ([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(non2xx.group(1)) if non2xx else 0
    latency = {
        int(p): float(v) * WRK_UNITS[u]
        for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    return {
        "requests": requests,
        "ok": requests - bad,
        "per_s": (requests - bad) / elapsed,
        "p50_ms": latency.get(50),
        "p99_ms": latency.get(99),
        "late_sends": int(late.group(1)) if late else None,
        "lag_max_ms": float(late.group(2)) if late else None,
        "raw": out,
    }


def wrk_votes(
    base: str,
    workdir: Path,
    battles: list[tuple[str, str]],
    seconds: float,
    concurrency: int,
    *,
    rate: float = 0.0,
) -> dict[str, Any]:
    """Votes by wrk (bench/load_votes.lua), each on the next of `battles` with its voter's
    cookie: `concurrency` connections in a closed loop, or `rate` votes a second on a fixed
    schedule over them (an open loop; `late_sends` says how many went out late)."""
    listing = workdir / "battles.txt"
    listing.write_text("".join(f"{b} {c}\n" for b, c in battles))
    threads = 2
    return wrk_run(
        base,
        seconds,
        concurrency,
        script=str(ROOT / "bench" / "load_votes.lua"),
        script_args=(str(listing), str(threads), uuid.uuid4().hex, str(rate / threads)),
    )


async def closed_loop(
    base: str, seconds: float, concurrency: int, make_request: Any
) -> tuple[int, list[float], dict[int, int], float]:
    """`concurrency` clients, each sending its next request as soon as the last is answered."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        base, connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        stop_at = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < stop_at:
                request = make_request()
                if request is None:
                    return
                method, path, headers, body = request
                started = time.perf_counter()
                async with http.request(method, path, headers=headers, json=body) as answer:
                    await answer.read()
                latencies.append(time.perf_counter() - started)
                codes[answer.status] = codes.get(answer.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies), latencies, codes, elapsed


async def open_loop(
    base: str, rate: float, seconds: float, make_request: Any
) -> tuple[list[float], dict[int, int], float]:
    """Requests sent at `rate` per second on a fixed schedule, whatever the answers do (an
    open loop, as independent visitors arrive). Each latency runs from the request's
    scheduled time, so a server that falls behind is charged for the wait it causes
    (no coordinated omission)."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=512, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(
        base, connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        start = loop.time() + 0.2

        async def one(index: int) -> None:
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            request = make_request()
            if request is None:
                return
            method, path, headers, body = request
            async with http.request(method, path, headers=headers, json=body) as answer:
                await answer.read()
            latencies.append(loop.time() - due)
            codes[answer.status] = codes.get(answer.status, 0) + 1

        await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))
        elapsed = loop.time() - start
    return latencies, codes, elapsed


async def measure_get(base: str, path: str, seconds: float, concurrency: int) -> dict[str, Any]:
    count, latencies, codes, elapsed = await closed_loop(
        base, seconds, concurrency, lambda: ("GET", path, {}, None)
    )
    return {
        "per_s": count / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "codes": codes,
        "requests": count,
    }


async def measure_votes(
    base: str,
    battles: list[tuple[str, str]],
    seconds: float,
    concurrency: int,
    *,
    rate: float = 0.0,
) -> dict[str, Any]:
    """Votes on `battles` in turn: `concurrency` clients in a closed loop, or with `rate`
    votes a second on a fixed schedule (see open_loop)."""
    pending = iter(battles)
    accepted: list[str] = []
    choices = ("left", "right", "tie", "left", "right")
    csrf = uuid.uuid4().hex

    def next_vote() -> Any:
        try:
            battle_id, cookie = next(pending)
        except StopIteration:
            return None
        accepted.append(battle_id)  # sent; the answers decide what counts as accepted below
        headers = {"Cookie": f"sessionid={cookie}; csrftoken={csrf}", "X-CSRFToken": csrf}
        return (
            "POST",
            f"/api/battles/{battle_id}/vote",
            headers,
            {"choice": choices[len(accepted) % len(choices)]},
        )

    if rate:
        latencies, codes, elapsed = await open_loop(base, rate, seconds, next_vote)
        count = len(latencies)
    else:
        count, latencies, codes, elapsed = await closed_loop(base, seconds, concurrency, next_vote)
    return {
        "sent": count,
        "ok": codes.get(200, 0),
        "codes": codes,
        "per_s": codes.get(200, 0) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "battle_ids": accepted[:count],
    }


async def one_battle(
    http: aiohttp.ClientSession,
    base: str,
    body: dict[str, Any] | None = None,
    slug: str = SLUG,
) -> tuple[str, float, float] | None:
    """POST a battle (`body`: a typed prompt unless given) and wait for "ready" on its
    WebSocket; (id, seconds, wall clock at the POST) or None if failed."""
    csrf = http.cookie_jar.filter_cookies(URL(base)).get("csrftoken")
    headers = {"X-CSRFToken": csrf.value if csrf else ""}
    started, posted_at = time.perf_counter(), time.time()
    async with http.post(
        f"/api/arenas/{slug}/battles", json=body or {"prompt": "a lighthouse"}, headers=headers
    ) as answer:
        if answer.status != 201:
            return None
        battle = await answer.json()
    async with http.ws_connect(f"/ws/battles/{battle['id']}/", headers={"Origin": base}) as ws:
        async for message in ws:
            state = json.loads(message.data)["state"]
            if state["status"] == "ready":
                return battle["id"], time.perf_counter() - started, posted_at
            if state["status"] == "failed":
                return None
    return None


async def measure_battles(
    base: str,
    count: int,
    concurrency: int,
    body: dict[str, Any] | None = None,
    slug: str = SLUG,
) -> list[tuple[str, float, float]]:
    results: list[tuple[str, float, float]] = []
    remaining = [count]

    async def client() -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(
            base, cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=120)
        ) as http:
            async with http.get("/api/arenas") as answer:  # the csrftoken cookie
                await answer.read()
            while remaining[0] > 0:
                remaining[0] -= 1
                result = await one_battle(http, base, body, slug)
                if result:
                    results.append(result)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results


# --- A remote provider (the production shape: the model runs elsewhere) ------------------------
REMOTE_SLUG = "bench-remote"
REMOTE_DELAY_S = 0.15  # the fake provider's own time per image (the fake side: ~165 ms)
REMOTE_KEY = "bench-remote-key"
REMOTE_SETUP = """
from arena.battles.models import Arena, Contender, Provider
arena = Arena.objects.create(slug=%(slug)r, title="Remote bench", width=512, height=512)
for name in ("Remote A", "Remote B"):
    provider = Provider.objects.create(name=name, kind="openai_images", base_url=%(base)r,
                                       api_key_env="BENCH_REMOTE_KEY")
    Contender.objects.create(name=name, provider=provider, model_id="gpt-image-1").arenas.add(arena)
"""


def remote_pictures() -> list[bytes]:
    """The demo renderer's five styles at 512x512, as a provider sends them (deflated PNG)."""
    import io

    from PIL import Image

    from generators.base import GenerationRequest, ProviderConfig
    from generators.demo import STYLES, DemoGenerator

    pictures = []
    for i, style in enumerate(STYLES):
        generator = DemoGenerator(ProviderConfig(kind="demo", options={"style": style}))
        request = GenerationRequest(prompt=f"a lighthouse {i}", seed=i, width=512, height=512)
        with Image.open(io.BytesIO(generator.generate(request).data)) as picture:
            out = io.BytesIO()
            picture.save(out, format="PNG")
            pictures.append(out.getvalue())
    return pictures


def _remote_provider_serve(port_out: Any) -> None:
    """The fake's own process (its CPU must not share the bench client's interpreter)."""
    import base64

    from tests.fakes import OpenAIImagesFake, Recorded, Reply, start_fake

    answers = [
        json.dumps({"created": 0, "data": [{"b64_json": base64.b64encode(p).decode()}]}).encode()
        for p in remote_pictures()
    ]

    class RemoteImages(OpenAIImagesFake):
        served = 0

        def handle(self, req: Recorded) -> Reply:
            if req.route != "submit" or req.method != "POST":
                return super().handle(req)
            self.requests.clear()  # keep nothing per request: the bench sends hundreds
            RemoteImages.served += 1
            answer = answers[RemoteImages.served % len(answers)]
            return Reply(200, answer, {"Content-Type": "application/json"})

    fake = RemoteImages(api_key=REMOTE_KEY)
    fake.delay_s = REMOTE_DELAY_S
    server = start_fake(fake)
    port_out.send(server.base_url)
    port_out.close()
    threading.Event().wait()  # until terminated


def remote_provider_start() -> tuple[Any, str]:
    """An OpenAI-format image API on 127.0.0.1 (tests/fakes) in a process of its own, that
    answers each request, after REMOTE_DELAY_S, with the next of the demo's pictures;
    (the process, its base URL)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_remote_provider_serve, args=(sender,), daemon=True)
    process.start()
    if not receiver.poll(60):
        process.kill()
        raise RuntimeError("the fake remote provider did not start")
    return process, receiver.recv()


def slower_sides(database_url: str, battle_ids: list[str]) -> dict[str, float]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT battle_id::text, max(latency_s) FROM battles_output "
            "WHERE battle_id = ANY(%s::uuid[]) GROUP BY battle_id",
            (battle_ids,),
        ).fetchall()
    return {battle_id: latency for battle_id, latency in rows}


def battle_stages(database_url: str, single: list[tuple[str, float, float]]) -> dict[str, float]:
    """Where a concurrency-1 battle's time goes, medians in ms, from the rows' own timestamps
    (same machine, same clock): the POST until the battle row exists, the queue hop until
    the later side is claimed by a worker, the slower side's time in the worker beyond its
    own render (normalising, storing, the SQL of claiming and finishing), and from the battle
    turning ready to the client reading "ready" on its WebSocket."""
    rows: dict[str, list[float]] = {"to_created": [], "queue_hop": [], "side_extra": [], "push": []}
    with psycopg.connect(database_url) as conn:
        for battle_id, took, posted_at in single:
            created, ready = conn.execute(
                "SELECT extract(epoch FROM created_at), extract(epoch FROM ready_at) "
                "FROM battles_battle WHERE id = %s",
                (battle_id,),
            ).fetchone()
            sides = conn.execute(
                "SELECT extract(epoch FROM started_at), extract(epoch FROM finished_at), "
                "latency_s FROM battles_output WHERE battle_id = %s",
                (battle_id,),
            ).fetchall()
            if ready is None or not sides or any(v is None for row in sides for v in row):
                continue
            rows["to_created"].append(float(created) - posted_at)
            rows["queue_hop"].append(
                max(float(started) for started, _, _ in sides) - float(created)
            )
            rows["side_extra"].append(
                max(float(done) - float(started) - latency for started, done, latency in sides)
            )
            rows["push"].append(posted_at + took - float(ready))
    return {
        name: round(statistics.median(values) * 1000, 1) for name, values in rows.items() if values
    }


class CpuMeter:
    """CPU seconds used so far by the arena's processes (web, Celery workers) and by the
    PostgreSQL backends of the bench database, read from /proc. Per request, these hold on a
    busy machine where rates and latencies swing with the other jobs' load."""

    def __init__(self, arena: LiveArena, database: str, pg_admin: str) -> None:
        self.groups = {proc.pid for _, proc in arena.procs}  # each started its own session
        self.database = database
        self.pg_admin = pg_admin
        self.tick = os.sysconf("SC_CLK_TCK")

    def _cpu(self, pid: int) -> tuple[int, float] | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[2]), (int(fields[11]) + int(fields[12])) / self.tick

    def sample(self) -> dict[str, float]:
        totals = {"web": 0.0, "worker": 0.0, "postgres": 0.0}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            read = self._cpu(int(entry.name))
            if read is None or read[0] not in self.groups:
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"celery" in cmdline:
                totals["worker"] += read[1]
            elif b"granian" in cmdline or b"daphne" in cmdline:
                totals["web"] += read[1]
        with psycopg.connect(self.pg_admin, autocommit=True) as conn:
            backends = [
                row[0]
                for row in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
                )
            ]
        for pid in backends:
            read = self._cpu(pid)
            if read is not None:
                totals["postgres"] += read[1]
        return totals

    @staticmethod
    def per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
        """CPU milliseconds per request between two samples (a backend that exited between
        them is not counted: the pools keep theirs)."""
        spent = {k: max(0.0, after[k] - before[k]) * 1000 / max(1, count) for k in before}
        return {
            **{k: round(v, 3) for k, v in spent.items()},
            "total": round(sum(spent.values()), 3),
        }


def votes_stored(database_url: str, battle_ids: list[str]) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM votes_vote WHERE battle_id = ANY(%s::uuid[])", (battle_ids,)
        ).fetchone()[0]


def refreshes_done(base: str) -> float:
    """Leaderboard recomputes finished so far, summed over every process (/metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "arena_leaderboard_refresh_seconds_count"
    )


def wait_refreshed(base: str, before: float, timeout: float) -> float:
    """Wait for the leaderboard recompute that follows the vote burst: it runs in the worker
    that also renders the demo outputs, and would be timed with the battles otherwise."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if refreshes_done(base) > before:
            break
        time.sleep(0.5)
    return time.perf_counter() - started


WRK_HINT = (
    "wrk is not installed: the no-op and vote loads fall back to an aiohttp client, "
    "which tops out near 1,500 requests/s on this machine and hides the server's "
    "ceiling. Install it with `apt-get install -y wrk` (Debian/Ubuntu; `brew install "
    "wrk` on macOS), or run this benchmark with --install-wrk."
)


def wrk_available(args: argparse.Namespace) -> bool:
    """wrk on the PATH; with --install-wrk, installed with apt-get first when missing."""
    if shutil.which("wrk"):
        return True
    if args.install_wrk and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL
        )
        if shutil.which("wrk"):
            return True
    print(WRK_HINT, file=sys.stderr)
    return False


# --- Main -------------------------------------------------------------------------------------
def bench_database_create() -> tuple[str, str, str, str]:
    """A fresh PostgreSQL database for one run (the caller drops it) and the Redis to use:
    (admin URL, Redis URL, database name, database URL)."""
    pg_admin = os.environ.get("ARENA_BENCH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("ARENA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"arena_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_admin, redis_url, name, pg_admin.rsplit("/", 1)[0] + "/" + name


def run(args: argparse.Namespace) -> dict[str, Any]:
    pg_admin, redis_url, name, database_url = bench_database_create()
    quick = args.quick
    seconds = 5.0 if quick else 12.0
    env = {
        **BENCH_SERVER_ENV,
        "ARENA_MIN_VOTE_SECONDS": "0",
        "ARENA_POW_BITS": "0",
        "ARENA_VOTER_DAILY_CAP": "1000000",
        "ARENA_RATE_VOTES_PER_VOTER": "0",
        "ARENA_RATE_VOTES_PER_ADDRESS": "0",
        "ARENA_RATE_BATTLES_PER_VOTER": "0",
        "ARENA_RATE_BATTLES_PER_ADDRESS": "0",
    }
    remote, remote_url = remote_provider_start()
    env["BENCH_REMOTE_KEY"] = REMOTE_KEY
    workdir = Path(tempfile.mkdtemp(prefix="arena-load-"))
    # Both layouts sum the worker's metrics into /metrics (the bench reads refresh counts there).
    env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "prometheus")
    (workdir / "prometheus").mkdir()
    if args.server == "prod":
        env.update(
            {
                "WEB_WORKERS": str(args.web_workers),
                "WORKER_CONCURRENCY": "2",
                "REMOTE_WORKERS": str(os.cpu_count() or 2),  # make prod's default
                "REMOTE_CONCURRENCY": "8",
                "ARENA_HTTP_THREADS": str(args.http_threads),
                "DB_POOL_MAX": str(args.http_threads + 4),
                "DB_POOL_MIN": "2",
            }
        )
    arena = LiveArena(
        workdir,
        database_url=database_url,
        redis_url=redis_url,
        provider_options={"delay_s": DELAY_S},
        extra_env=env,
        server=args.server,
    )
    figures: dict[str, Any] = {
        "server": args.server,
        "quick": quick,
        "load_before": os.getloadavg()[0],
    }
    try:
        arena.start()
        base = arena.base
        arena.manage(
            "shell", "-c", REMOTE_SETUP % {"slug": REMOTE_SLUG, "base": remote_url + "/v1"}
        )
        open_count = int(OPEN_RATE * seconds)
        battles = seed_ready_battles(
            arena, WARMUP_VOTES + open_count + (6000 if quick else 20000), 300
        )
        warmup, at_rate = battles[:WARMUP_VOTES], battles[WARMUP_VOTES : WARMUP_VOTES + open_count]
        battles = battles[WARMUP_VOTES + open_count :]
        time.sleep(2)  # let the processes settle after start-up

        use_wrk = args.client == "wrk" or (args.client == "auto" and wrk_available(args))
        figures["client"] = "wrk" if use_wrk else "aiohttp"
        meter = CpuMeter(arena, name, pg_admin)
        cpu_before = meter.sample()
        if use_wrk:
            noop = wrk_run(base + "/livez", seconds, args.concurrency)
        else:
            noop = asyncio.run(measure_get(base, "/livez", seconds, args.concurrency))
        figures["noop_cpu_ms"] = meter.per(cpu_before, meter.sample(), noop["requests"])
        figures["noop_per_s"] = noop["per_s"]
        figures["noop_p50_ms"] = noop["p50_ms"]
        figures["insert_per_s"] = insert_loop(database_url, 3.0 if quick else 5.0)

        if use_wrk:
            # A warm-up burst on battles of its own, not measured: each web process opens its
            # pool's connections and prepares the vote's statements, as a server does once.
            wrk_votes(base, workdir, warmup, WARMUP_S, args.concurrency)
        else:
            asyncio.run(measure_votes(base, warmup, WARMUP_S, args.concurrency))
        wait_refreshed(base, refreshes_done(base), 30.0)
        cpu_before = meter.sample()
        if use_wrk:
            result = wrk_votes(base, workdir, battles, seconds, args.concurrency)
            votes = {
                "sent": result["requests"],
                "ok": result["ok"],
                "per_s": result["per_s"],
                "p50_ms": result["p50_ms"],
                "p99_ms": result["p99_ms"],
                "codes": {"2xx": result["ok"], "other": result["requests"] - result["ok"]},
                "battle_ids": [b for b, _ in battles],
            }
        else:
            votes = asyncio.run(measure_votes(base, battles, seconds, args.concurrency))
        figures["vote_cpu_ms"] = meter.per(cpu_before, meter.sample(), votes["sent"])
        stored = votes_stored(database_url, votes["battle_ids"])
        figures.update(
            {
                "votes_per_s": votes["per_s"],
                "vote_p50_ms": votes["p50_ms"],
                "vote_p99_ms": votes["p99_ms"],
                "votes_sent": votes["sent"],
                "votes_accepted": votes["ok"],
                "votes_stored": stored,
                "votes_lost": votes["ok"] - stored if votes["ok"] > stored else 0,
                "vote_codes": votes["codes"],
            }
        )
        figures["votes_vs_noop"] = votes["per_s"] / noop["per_s"]
        figures["votes_vs_insert"] = votes["per_s"] / figures["insert_per_s"]
        # The same ratio in CPU per request: what votes_vs_noop is when the cores, not the
        # other jobs on the machine, set both rates.
        figures["votes_vs_noop_cpu"] = figures["noop_cpu_ms"]["total"] / max(
            1e-9, figures["vote_cpu_ms"]["total"]
        )
        # The same vote at a fixed rate (the aim), as visitors arrive: the latency a
        # voter sees when the site is busy but not past its ceiling.
        if use_wrk:
            paced = wrk_votes(base, workdir, at_rate, seconds, OPEN_CONNECTIONS, rate=OPEN_RATE)
        else:
            paced = asyncio.run(measure_votes(base, at_rate, seconds, 0, rate=OPEN_RATE))
        paced_stored = votes_stored(database_url, [b for b, _ in at_rate])
        figures.update(
            {
                "vote_open_rate_per_s": OPEN_RATE,
                "vote_open_per_s": paced["per_s"],
                "vote_open_p50_ms": paced["p50_ms"],
                "vote_open_p99_ms": paced["p99_ms"],
                # sent after their time because every connection was busy (wrk): their wait
                # is not in the latencies; 0 means the figures are the open loop's own
                "vote_open_late_sends": paced.get("late_sends"),
                "votes_lost_open": max(0, paced["ok"] - paced_stored),
            }
        )
        figures["refresh_wait_s"] = wait_refreshed(base, refreshes_done(base), 120.0)

        # A few battles first, not measured: each worker process's first sides import the
        # renderer and image codecs and open its connections (once per process).
        asyncio.run(measure_battles(base, WARMUP_BATTLES, 1))
        refreshes_before_c1 = refreshes_done(base)
        single = asyncio.run(measure_battles(base, C1_BATTLES_QUICK if quick else C1_BATTLES, 1))
        figures["refreshes_during_c1"] = refreshes_done(base) - refreshes_before_c1
        sides = slower_sides(database_url, [b for b, _, _ in single])
        overheads = [(took - sides[b]) * 1000 for b, took, _ in single if sides.get(b) is not None]
        figures["battle_overhead_p50_ms"] = statistics.median(overheads) if overheads else None
        figures["battle_p50_ms_c1"] = (
            statistics.median([t for _, t, _ in single]) * 1000 if single else None
        )
        figures["battle_stages_c1_ms"] = battle_stages(database_url, single)
        # The same with two remote models (the fake above): the arena's own overhead when the
        # model runs elsewhere, as in production, without the demo renderer's CPU beside it.
        asyncio.run(measure_battles(base, WARMUP_BATTLES, 1, slug=REMOTE_SLUG))
        remote_single = asyncio.run(
            measure_battles(base, C1_BATTLES_QUICK if quick else C1_BATTLES, 1, slug=REMOTE_SLUG)
        )
        remote_sides = slower_sides(database_url, [b for b, _, _ in remote_single])
        remote_overheads = [
            (took - remote_sides[b]) * 1000
            for b, took, _ in remote_single
            if remote_sides.get(b) is not None
        ]
        figures["battle_overhead_remote_p50_ms"] = (
            statistics.median(remote_overheads) if remote_overheads else None
        )
        figures["battle_stages_remote_c1_ms"] = battle_stages(database_url, remote_single)
        cpu_before = meter.sample()
        many = asyncio.run(measure_battles(base, 32 if quick else 64, 16))
        figures["battle_cpu_ms_c16"] = meter.per(cpu_before, meter.sample(), len(many))
        figures["battle_p50_ms_c16"] = (
            statistics.median([t for _, t, _ in many]) * 1000 if many else None
        )
        figures["battles_ok_c16"] = len(many)

        page = asyncio.run(
            measure_get(base, f"/arena/{SLUG}/leaderboard/", 3.0 if quick else 6.0, 8)
        )
        api = asyncio.run(
            measure_get(base, f"/api/arenas/{SLUG}/leaderboard", 3.0 if quick else 6.0, 8)
        )
        figures.update(
            {
                "leaderboard_p95_ms": page["p95_ms"],
                "leaderboard_per_s": page["per_s"],
                "api_leaderboard_p95_ms": api["p95_ms"],
                "api_leaderboard_per_s": api["per_s"],
            }
        )
        figures["load_after"] = os.getloadavg()[0]
    finally:
        remote.terminate()
        killed = arena.stop()
        if killed:
            figures["killed_at_stop"] = killed
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        prefix = arena.env.get("REDIS_KEY_PREFIX")
        if prefix:
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}:*", count=1000):
                client.delete(key)
        shutil.rmtree(workdir, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON last")
    parser.add_argument("--quick", action="store_true", help="a shorter run (~1.5 minutes)")
    parser.add_argument("--server", choices=("prod", "daphne"), default="prod")
    parser.add_argument("--web-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--http-threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "aiohttp"),
        default="auto",
        help="what sends the no-op and vote loads (auto: wrk if installed)",
    )
    parser.add_argument(
        "--install-wrk",
        action="store_true",
        help="apt-get install wrk first when it is missing (needs root)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    figures = run(args)
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    figures_print(figures, as_json=args.json)


def figures_print(figures: dict[str, Any], *, as_json: bool) -> None:
    """The figures as a table, and with --json as one JSON object on the last line."""
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        shown = f"{value:,.1f}" if isinstance(value, float) else value
        print(f"{key:>{width}}  {shown}")
    if as_json:
        print(
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
        )


if __name__ == "__main__":
    main()
