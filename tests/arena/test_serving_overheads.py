"""Per-request overheads cut for the vote path (issue 10) keep what they replaced working:
the admin's messages (made on first use now) and Django's Redis cache (one client per pool)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from arena.ops import middleware
from arena.ops.cache import RedisCache


def test_a_request_that_uses_no_messages_builds_no_message_storage(
    voter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.contrib.messages.storage.fallback import FallbackStorage

    made: list[object] = []
    real = FallbackStorage.__init__

    def counting(storage: Any, request: Any, *args: Any, **kwargs: Any) -> None:
        made.append(request)
        real(storage, request, *args, **kwargs)

    monkeypatch.setattr(FallbackStorage, "__init__", counting)
    assert voter.get("/api/arenas").status_code == 200
    assert made == []


def with_session(request: HttpRequest) -> HttpRequest:
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()  # type: ignore[attr-defined]
    return request


def test_messages_added_by_a_view_are_still_stored() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        messages.success(request, "Saved.")
        return HttpResponse("ok")

    request = with_session(RequestFactory().get("/admin/"))
    handler = middleware.LazyMessageMiddleware(view)
    handler.process_request(request)
    response = handler.process_response(request, view(request))
    assert response.cookies["messages"].value  # stored (signed) for the next request
    follow_up = with_session(RequestFactory().get("/admin/"))
    follow_up.COOKIES["messages"] = response.cookies["messages"].value
    handler.process_request(follow_up)
    assert [str(m) for m in messages.get_messages(follow_up)] == ["Saved."]


def test_the_redis_cache_reuses_one_client_and_still_works(redis_url: str) -> None:
    cache = RedisCache(redis_url, {"KEY_PREFIX": "overheads"})
    try:
        assert cache._cache.get_client(write=True) is cache._cache.get_client(write=True)
        assert cache.add("k", 1, timeout=30) and not cache.add("k", 2, timeout=30)
        assert cache.incr("k") == 2 and cache.get("k") == 2
    finally:
        cache.clear()


def test_a_leaderboard_render_is_served_from_the_process_until_the_next_refresh(
    db: None, settings: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendered bytes of the newest snapshot are kept in the process too (no cache round
    trip per request); a refresh makes a new snapshot, and so new bytes."""
    from arena.leaderboards import services, serving
    from tests.arena.votes_factory import add_votes, make_arena

    settings.ARENA_BOOTSTRAP_ROUNDS = settings.ARENA_STYLE_BOOTSTRAP_ROUNDS = 20
    arena, models = make_arena()
    add_votes(arena, models, 100, seed=2)
    services.leaderboard_compute(arena=arena)
    first = client.get("/api/arenas/scale/leaderboard")
    reads: list[str] = []
    real_get = serving.cache.get
    monkeypatch.setattr(
        serving.cache, "get", lambda key, *a, **k: reads.append(key) or real_get(key, *a, **k)
    )
    again = client.get("/api/arenas/scale/leaderboard")
    assert again.content == first.content and reads == []
    add_votes(arena, models, 30, seed=9)
    services.leaderboard_compute(arena=arena)
    fresh = client.get("/api/arenas/scale/leaderboard")
    assert fresh["ETag"] != first["ETag"] and fresh.json()["votes"] > first.json()["votes"]
