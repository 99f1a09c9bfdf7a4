"""The vote path stays short (issue 10): one transaction that locks only its battle, a few SQL
statements and at most two Redis round trips (one pipelined for all the rate limits, one to
ask for a leaderboard refresh after commit)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis.connection
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arena.battles import services
from arena.battles.models import Arena, Battle, BattleStatus
from arena.votes.models import Vote
from arena.votes.services import vote_cast


@pytest.fixture
def redis_cache(settings: Any, redis_url: str) -> Iterator[None]:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "votepath",
        }
    }
    cache.clear()
    yield
    cache.clear()


class RoundTrips:
    """Counts what the redis client sends: one `send_packed_command` per round trip (a
    pipeline sends all its commands at once). A spy on the library, not a mock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = redis.connection.AbstractConnection.send_packed_command

        def counting(conn: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            original(conn, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)


def statements(queries: CaptureQueriesContext) -> list[str]:
    """What a vote runs, without the test transaction's savepoints (BEGIN/COMMIT in
    production, which Django does not capture either)."""
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def ready_battle(run_on_commit: Any, voter: Any, prompt: str = "a fox") -> Battle:
    created = run_on_commit(voter.post, "/api/arenas/text-to-image/battles", {"prompt": prompt})
    battle = Battle.objects.get(pk=created.json()["id"])
    assert battle.status == BattleStatus.READY
    return battle


@pytest.fixture
def limited(demo_arena: Any, redis_cache: None, settings: Any) -> None:
    """The demo arena, Redis as the cache, the vote rate limits on."""
    settings.ARENA_RATE_VOTES_PER_VOTER = 30
    settings.ARENA_RATE_VOTES_PER_ADDRESS = 120


def test_a_vote_is_two_statements_and_two_redis_round_trips(
    limited: None,
    run_on_commit: Any,
    voter: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from arena.leaderboards.services import _due_key

    battle = ready_battle(run_on_commit, voter)
    cache.get("warm-up")  # the connection's own handshake is not the vote's
    cache.add(_due_key(battle.arena_id), 1, timeout=60)  # a refresh is already due
    trips = RoundTrips(monkeypatch)
    with (
        django_assert_max_num_queries(5),  # 2 (3 on SQLite) + the test's savepoint pair
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = voter.post(f"/api/battles/{battle.pk}/vote", {"choice": "left"})
    assert response.status_code == 200, response.content
    sql = statements(queries)
    assert sql[0].startswith("SELECT")
    if connection.vendor == "postgresql":  # SQLite has no row locks nor INSERT in a WITH
        assert sql[0].endswith('FOR UPDATE OF "battles_battle"')
        # the vote's INSERT and the battle's UPDATE in one statement (one round trip)
        assert len(sql) == 2, sql
        assert sql[1].startswith('WITH "v" AS (INSERT INTO "votes_vote"')
        assert 'UPDATE "battles_battle"' in sql[1]
    else:
        assert len(sql) == 3, sql
        assert sql[1].startswith('INSERT INTO "votes_vote"')
        assert sql[2].startswith('UPDATE "battles_battle"')
    assert trips.count <= 2  # rate limits (one pipeline) + the debounced refresh request
    assert Vote.objects.get().is_valid


def test_a_vote_after_the_first_of_a_burst_asks_redis_only_its_rate_limits(
    limited: None, run_on_commit: Any, voter: Any, settings: Any, monkeypatch: Any
) -> None:
    """The first vote stores when the leaderboard's recompute starts (SET NX GET, one round
    trip) and schedules it; the next votes of this process know it covers them (issue 10)."""
    from arena.leaderboards import dispatch
    from arena.leaderboards.services import _due_key

    settings.ARENA_LEADERBOARD_DEBOUNCE_S = 30.0
    scheduled: list[int] = []
    monkeypatch.setattr(
        dispatch, "refresh_schedule", lambda *, arena_id, countdown: scheduled.append(arena_id)
    )
    first, second = ready_battle(run_on_commit, voter), ready_battle(run_on_commit, voter, "a cat")
    cache.get("warm-up")
    trips = []
    for battle in (first, second):
        counted = RoundTrips(monkeypatch)
        response = run_on_commit(voter.post, f"/api/battles/{battle.pk}/vote", {"choice": "left"})
        assert response.status_code == 200, response.content
        trips.append(counted.count)
    assert trips == [2, 1]  # rate limits + the refresh's due time; then rate limits only
    assert scheduled == [first.arena_id]
    assert cache.get(_due_key(first.arena_id)) > time.time() * 1000  # Django reads it back


def test_a_text_vote_reads_its_outputs_once_more(
    demo_arena: Any, run_on_commit: Any, voter: Any, django_assert_max_num_queries: Any
) -> None:
    battle = ready_battle(run_on_commit, voter)
    Arena.objects.update(modality="text")  # the identity-leak rule reads the texts
    with django_assert_max_num_queries(6):  # 4 + the savepoint pair
        response = voter.post(f"/api/battles/{battle.pk}/vote", {"choice": "tie"})
    assert response.status_code == 200


def test_rate_limits_fail_open_when_redis_is_down(
    demo_arena: Any, run_on_commit: Any, voter: Any, settings: Any
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }  # nothing listens
    settings.ARENA_RATE_VOTES_PER_VOTER = 1
    battle = ready_battle(run_on_commit, voter)
    response = voter.post(f"/api/battles/{battle.pk}/vote", {"choice": "left"})
    assert response.status_code == 200 and Vote.objects.get().is_valid


@pytest.mark.django_db(transaction=True)
def test_a_vote_does_not_wait_for_locks_on_its_arena_prompt_or_models(
    transactional_db: None, settings: Any
) -> None:
    """Locking the arena, prompt and model rows too made every vote of an arena queue behind
    the others; another transaction holding them must not delay a vote."""
    from arena.battles.demo_data import demo_load

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite locks the whole database)")
    demo_load()
    battle = services.battle_create(
        arena_slug="text-to-image", voter_id="v1", prompt_text="a lighthouse"
    )
    battle = Battle.objects.select_related("left", "right").get(pk=battle.pk)
    assert battle.status == BattleStatus.READY
    params = connection.get_connection_params()
    dsn = psycopg.conninfo.make_conninfo(
        **{k: v for k, v in params.items() if k in {"dbname", "user", "password", "host", "port"}}
    )
    with psycopg.connect(dsn) as other:  # holds its row locks until the block ends
        other.execute("SELECT 1 FROM battles_arena WHERE id = %s FOR UPDATE", [battle.arena_id])
        other.execute("SELECT 1 FROM battles_prompt WHERE id = %s FOR UPDATE", [battle.prompt_id])
        other.execute(
            "SELECT 1 FROM battles_contender WHERE id IN (%s, %s) FOR UPDATE",
            [battle.left_id, battle.right_id],
        )
        other.execute(
            "SELECT 1 FROM battles_provider WHERE id IN (%s, %s) FOR UPDATE",
            [battle.left.provider_id, battle.right.provider_id],
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        try:
            cast = vote_cast(battle_id=battle.pk, voter_id="v1", choice="left")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
        other.rollback()
    assert cast.vote.pk and cast.vote.is_valid


def test_the_votes_statements_are_prepared_once_per_connection(
    demo_arena: Any, run_on_commit: Any, voter: Any
) -> None:
    """PostgreSQL planned the vote's read in ~3× its execution time: it is prepared once per
    (pooled) connection, and so is the vote's INSERT + UPDATE statement (issue 10)."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    for prompt in ("a fox", "a cat"):
        battle = ready_battle(run_on_commit, voter, prompt=prompt)
        response = voter.post(f"/api/battles/{battle.pk}/vote", {"choice": "left"})
        assert response.status_code == 200, response.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        prepared = dict(cursor.fetchall())
    lock = [n for s, n in prepared.items() if s.endswith('FOR UPDATE OF "battles_battle"')]
    assert lock == [2]  # prepared once, run twice
    store = [
        n for s, n in prepared.items() if s.startswith('WITH "v" AS (INSERT INTO "votes_vote"')
    ]
    assert store == [2]  # the INSERT and UPDATE statement, prepared once, run twice


def test_votes_work_with_prepared_statements_turned_off(
    demo_arena: Any, run_on_commit: Any, voter: Any
) -> None:
    """DB_PREPARED_STATEMENTS=0 (a transaction-mode pooler): the same statements, unprepared."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    battle = ready_battle(run_on_commit, voter)
    connection.ensure_connection()
    saved = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            return int(cursor.fetchone()[0])

    try:
        before = prepared()
        response = voter.post(f"/api/battles/{battle.pk}/vote", {"choice": "tie"})
        assert prepared() == before
    finally:
        connection.connection.prepare_threshold = saved
    assert response.status_code == 200 and Vote.objects.get().choice == "tie"
