"""Benchmark of one full leaderboard refresh at scale (issue 10).

    .venv/bin/python bench/refresh.py --votes 1000000 --json

Creates its own PostgreSQL database (``arena_bench_<random>`` on the server of
``BENCH_PG_URL``, default ``postgres://postgres@127.0.0.1:5432/postgres``), migrates it, loads
synthetic data in bulk (server-side ``INSERT … SELECT generate_series``: no row crosses the
wire, which is faster than ``COPY`` from the client), runs one full refresh of the arena (all
boards, the default settings: bootstrap rounds, style control, voter review) in a child
process and prints its figures; the database is dropped at the end (``--keep`` keeps it).

Data: ``--contenders`` models (50) with true strengths, ``--categories`` prompt categories (7;
a quarter of prompts have none), 20 % ties (a quarter of them "both bad"), two outputs per
battle with latencies and sizes (style covariates), 3 % of votes stored as not counted, and
a few voters who always pick the left side (the voter review flags them). The load bypasses
triggers, so the vote cells the database keeps (``arena.leaderboards.maintained``) are then
counted once (``cells_recount_s``, not part of the refresh).

Figures (``--json``: the last line is one JSON object): ``refresh_s`` (wall time of the
refresh call), ``peak_rss_mb`` (peak resident memory of the child process that ran it,
``ru_maxrss``), ``rss_before_mb`` (its resident memory just before), ``sql_queries``
(statements through Django's connection during the refresh), ``refresh_cpu_s`` (CPU time of
the refreshing process, both threads: steadier than wall time on a shared machine; the
database server's own time is not in it), ``load_avg_1m``, ``load_s``, ``votes``,
``boards``, and the refresh's own phase timings when it reports them.

``--code DIR`` runs the refresh of another checkout (e.g. ``/work/main``, the code before
this change) on the same database: the before/after figures come from the same loader.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]


def _db_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


# The loader names only the columns whose values matter; every other NOT NULL column of the
# app tables gets a neutral default for the load, so a field added later (with a Python-side
# default only) does not break the benchmark. Battles are anonymous (counted) ones.
DEFAULTS_SQL = """
DO $$
DECLARE r record; neutral text;
BEGIN
  FOR r IN SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = current_schema() AND is_nullable = 'NO'
             AND column_default IS NULL AND is_identity = 'NO'
             AND table_name ~ '^(battles|votes|leaderboards)_'
  LOOP
    neutral := CASE
      WHEN r.table_name = 'battles_battle' AND r.column_name = 'mode'
        THEN quote_literal('anonymous')
      WHEN r.data_type IN ('jsonb', 'json') THEN quote_literal('{}')
      WHEN r.data_type IN ('text', 'character varying') THEN quote_literal('')
      WHEN r.data_type = 'boolean' THEN 'false'
      WHEN r.data_type IN ('integer', 'bigint', 'smallint', 'double precision', 'numeric',
                           'real') THEN '0'
      WHEN r.data_type LIKE 'timestamp%%' THEN 'now()'
    END;
    IF neutral IS NOT NULL THEN
      EXECUTE format('ALTER TABLE %%I ALTER COLUMN %%I SET DEFAULT %%s', r.table_name,
                     r.column_name, neutral);
    END IF;
  END LOOP;
END $$;
"""

LOAD_SQL = """
SELECT setseed(%(seed)s);
INSERT INTO battles_provider (name, kind, base_url, api_key_env, timeout_s, max_concurrency,
    options, enabled, created_at)
VALUES ('bench', 'demo', '', '', 60, 4, '{}', true, now());
INSERT INTO battles_arena (slug, title, description, modality, reveal_policy,
    both_bad_counts_as_tie, width, height, generation_timeout_s, is_active, created_at)
VALUES ('bench', 'Bench', '', 'image', 'together', true, 512, 512, 120, true, now());
CREATE TEMP TABLE bench_model AS
SELECT k, (random() * 2 - 1) * 1.5 AS strength, 2 + random() * 12 AS latency,
       CASE k %% 5 WHEN 0 THEN 1024 WHEN 1 THEN 768 ELSE 512 END AS width,
       CASE k %% 5 WHEN 0 THEN 1024 ELSE 512 END AS height
FROM generate_series(1, %(contenders)s) AS k;
INSERT INTO battles_contender (name, organization, model_id, parameters, enabled,
    sampling_weight, license, link, added_at, provider_id, failure_streak, paused_reason)
SELECT 'model-' || lpad(k::text, 3, '0'), 'org-' || (k %% 7), 'm' || k, '{}', true, 1.0, '',
       '', now(), (SELECT id FROM battles_provider), 0, ''
FROM bench_model ORDER BY k;
ALTER TABLE bench_model ADD COLUMN cid bigint;
UPDATE bench_model SET cid = c.id FROM battles_contender c
 WHERE c.name = 'model-' || lpad(k::text, 3, '0');
INSERT INTO battles_contender_arenas (contender_id, arena_id)
SELECT cid, (SELECT id FROM battles_arena) FROM bench_model;
INSERT INTO battles_prompt (text, text_hash, source, modality, category, language, created_at)
SELECT 'prompt ' || i, md5('prompt ' || i), 'bank', 'image',
       CASE WHEN i %% 4 = 0 THEN '' ELSE 'cat-' || (i %% %(categories)s) END, 'en', now()
FROM generate_series(1, %(prompts)s) AS i;
CREATE TEMP TABLE bench_vote AS
SELECT i,
       md5('battle' || i)::uuid AS battle_id,
       1 + floor(random() * %(contenders)s)::int AS a,
       1 + floor(random() * (%(contenders)s - 1))::int AS b0,
       random() AS u, random() AS lat_a, random() AS lat_b,
       1 + floor(random() * %(prompts)s)::bigint AS prompt_k,
       CASE WHEN random() < 0.002 THEN 'bot-' || floor(random() * 20)::int
            ELSE 'voter-' || floor(power(random(), 2) * %(voters)s)::int END AS voter,
       random() < 0.03 AS invalid
FROM generate_series(1, %(votes)s) AS i;
"""

LOAD_SQL_2 = """
UPDATE bench_vote SET b0 = b0 + 1 WHERE b0 >= a;
INSERT INTO battles_battle (id, status, voter_id, voter_address, seed, sampling_probability,
    failure_reason, prompt_publishable, created_at, ready_at, finished_at, arena_id, left_id,
    right_id, prompt_id)
SELECT v.battle_id, 'voted', v.voter, '', v.i %% 100000, NULL, '', false,
       now() - make_interval(secs => (%(votes)s - v.i) * 0.01 + 20),
       now() - make_interval(secs => (%(votes)s - v.i) * 0.01 + 10),
       now() - make_interval(secs => (%(votes)s - v.i) * 0.01),
       (SELECT id FROM battles_arena), ma.cid, mb.cid,
       (SELECT min(id) FROM battles_prompt) + v.prompt_k - 1
FROM bench_vote v JOIN bench_model ma ON ma.k = v.a JOIN bench_model mb ON mb.k = v.b0;
INSERT INTO battles_output (side, status, token, file, content_type, text, width, height,
    params_used, params_mapped, latency_s, error_code, error, attempts, battle_id,
    contender_id, created_at)
SELECT s.side, 'ready', md5(v.battle_id::text || s.side) || md5(s.side || v.i), '',
       'image/png', '', m.width, m.height, '{}', '{}',
       round((m.latency * (0.5 + CASE s.side WHEN 'left' THEN v.lat_a ELSE v.lat_b END))::numeric,
             3)::float8,
       '', '', 1, v.battle_id, m.cid, now()
FROM bench_vote v CROSS JOIN (VALUES ('left'), ('right')) AS s(side)
JOIN bench_model m ON m.k = CASE s.side WHEN 'left' THEN v.a ELSE v.b0 END;
INSERT INTO votes_vote (choice, voter_id, voter_address, idempotency_key, seconds_to_vote,
    is_valid, invalid_reason, created_at, battle_id)
SELECT CASE
         WHEN v.voter LIKE 'bot-%%' THEN 'left'
         WHEN v.u < 0.05 THEN 'both_bad'
         WHEN v.u < 0.20 THEN 'tie'
         WHEN (v.u - 0.20) / 0.80 < 1 / (1 + exp(mb.strength - ma.strength
              - 0.08 * (mb.latency - ma.latency) * 0.2)) THEN 'left'
         ELSE 'right' END,
       v.voter, '', '', 3.0, NOT v.invalid, CASE WHEN v.invalid THEN 'too_fast' ELSE '' END,
       now() - make_interval(secs => (%(votes)s - v.i) * 0.01), v.battle_id
FROM bench_vote v JOIN bench_model ma ON ma.k = v.a JOIN bench_model mb ON mb.k = v.b0
ORDER BY v.i;
"""

SECONDARY_TABLES = ("battles_battle", "battles_output", "votes_vote")


def load(url: str, *, votes: int, contenders: int, categories: int, seed: float) -> None:
    """Fill the migrated database; secondary indexes are dropped for the load and rebuilt."""
    params = {
        "votes": votes,
        "contenders": contenders,
        "categories": categories,
        "prompts": max(100, votes // 20),
        "voters": max(10, votes // 25),
        "seed": seed,
    }
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET work_mem = '256MB'")
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [list(SECONDARY_TABLES)],
        ).fetchall()
        for name, _ in rows:
            conn.execute(f'DROP INDEX "{name}"')
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # no FK triggers
            with psycopg.ClientCursor(conn) as cur:
                cur.execute(DEFAULTS_SQL, params)
                cur.execute(LOAD_SQL, params)
                cur.execute(LOAD_SQL_2, params)
        for _, definition in rows:
            conn.execute(definition)
        for table in SECONDARY_TABLES + ("battles_prompt",):
            conn.execute(f"VACUUM ANALYZE {table}")


def cells_recount(url: str) -> None:
    """The bulk load bypasses the triggers that keep the vote cells (replica role): count
    them once, as the migration does for the votes a site already has."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env["DATABASE_URL"] = url
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from arena.leaderboards.maintained import cells_rebuild; cells_rebuild()",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
import django
django.setup()
from django.db import connection
from arena.battles.models import Arena
from arena.leaderboards import services
from arena.leaderboards.models import LeaderboardSnapshot
arena = Arena.objects.get(slug="bench")
queries = [0]
def count(execute, sql, params, many, context):
    queries[0] += 1
    return execute(sql, params, many, context)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rss_now = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
with connection.execute_wrapper(count):
    started = time.perf_counter()
    ok = services.leaderboard_refresh(arena_id=arena.pk)
    seconds = time.perf_counter() - started
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"refresh_s": round(seconds, 3), "refresh_cpu_s": round(cpu, 2),
       "load_avg_1m": os.getloadavg()[0], "peak_rss_mb": round(peak, 1),
       "rss_before_mb": round(rss_now, 1), "peak_before_mb": round(before, 1),
       "sql_queries": queries[0], "ok": bool(ok),
       "boards": LeaderboardSnapshot.objects.filter(arena=arena).count()}
snap = LeaderboardSnapshot.objects.filter(arena=arena, category="").first()
if snap is not None:
    out["counted_votes"] = snap.votes
    out["phases"] = (snap.params or {}).get("phases")
    out["top3"] = [r["model"] for r in snap.rows[:3]]
print("RESULT " + json.dumps(out))
"""


def run_refresh(url: str, code: Path, extra_env: dict[str, str]) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "arena.settings"})
    env.update(extra_env)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    raise SystemExit(f"refresh failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--contenders", type=int, default=50)
    parser.add_argument("--categories", type=int, default=7)
    parser.add_argument("--seed", type=float, default=0.42)
    parser.add_argument(
        "--code",
        type=Path,
        default=ROOT,
        help="checkout whose refresh is measured (default: this one)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="refreshes in a row (the later ones show the incremental path)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="load and keep the database, run no refresh (then use --db)",
    )
    parser.add_argument(
        "--db", help="reuse this loaded database (reset to before any refresh; not dropped)"
    )
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    if not 1 <= args.votes <= 10_000_000:
        parser.error("--votes must be between 1 and 10,000,000")
    base = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = args.db or f"arena_bench_{secrets.token_hex(4)}"
    url = _db_url(base, name)
    result: dict[str, object] = {
        "votes": args.votes,
        "contenders": args.contenders,
        "categories": args.categories,
        "code": str(args.code),
        "database": name,
    }
    created = False
    try:
        if not args.db:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            created = True
            env = {
                k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")
            }
            env["DATABASE_URL"] = url
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0", "--noinput"],
                cwd=ROOT,
                env=env,
                check=True,
            )
            started = time.perf_counter()
            load(
                url,
                votes=args.votes,
                contenders=args.contenders,
                categories=args.categories,
                seed=args.seed,
            )
            result["load_s"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            cells_recount(url)
            result["cells_recount_s"] = round(time.perf_counter() - started, 1)
            if not args.json:
                print(f"loaded {args.votes} votes in {result['load_s']} s", flush=True)
        if args.db:  # start from scratch: no snapshot, no live Elo, nobody flagged
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "UPDATE votes_vote SET is_valid = true, invalid_reason = '' "
                    "WHERE invalid_reason = 'flagged_voter'"
                )
                for table in (
                    "votes_flaggedvoter",
                    "leaderboards_leaderboardsnapshot",
                    "votes_elorating",
                    "leaderboards_elocheckpoint",
                ):
                    if conn.execute("SELECT to_regclass(%s)", [table]).fetchone()[0]:
                        conn.execute(f"DELETE FROM {table}")
                result["votes"] = conn.execute("SELECT count(*) FROM votes_vote").fetchone()[0]
                conn.execute("VACUUM ANALYZE votes_vote")
        if args.load_only:
            created = False  # keep it
            print(json.dumps(result))
            return 0
        runs = []
        for _ in range(args.repeat):
            runs.append(run_refresh(url, args.code, {}))
            if not args.json:
                print(json.dumps(runs[-1]), flush=True)
        result.update(runs[0])
        if len(runs) > 1:
            result["again_refresh_s"] = [r["refresh_s"] for r in runs[1:]]
            result["again_sql_queries"] = [r["sql_queries"] for r in runs[1:]]
    finally:
        if created and not args.keep:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
