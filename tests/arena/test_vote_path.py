"""The vote path stays short: few SQL statements, few Redis round trips, only the battle locked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis.connection
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arena.battles import services
from arena.battles.models import Battle


@pytest.fixture
def redis_cache(settings: Any, redis_url: str) -> Iterator[None]:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": redis_url, "KEY_PREFIX": "votepath"}}
    cache.clear()
    yield
    cache.clear()


class RoundTrips:
    """Counts what the redis client sends: one `send_packed_command` per round trip (a
    pipeline sends all its commands in one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = redis.connection.AbstractConnection.send_packed_command

        def counting(conn: Any, command: Any, check_health: bool = True) -> None:
            self.count += 1
            original(conn, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)


def test_a_vote_costs_few_statements_and_redis_round_trips(
    demo_arena: Any, run_on_commit: Any, voter: Any, redis_cache: None, settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.ARENA_RATE_VOTES_PER_VOTER = 30
    settings.ARENA_RATE_VOTES_PER_ADDRESS = 120
    created = run_on_commit(voter.post, "/api/arenas/text-to-image/battles", {"prompt": "a fox"})
    battle = Battle.objects.get(pk=created.json()["id"])
    trips = RoundTrips(monkeypatch)
    with CaptureQueriesContext(connection) as queries:
        response = voter.post(f"/api/battles/{battle.pk}/vote", {"choice": "left"})
    assert response.status_code == 200, response.content
    sql = [q["sql"] for q in queries.captured_queries]
    print("SQL", len(sql), "REDIS", trips.count)
    for s in sql:
        print("  ", s[:200])
