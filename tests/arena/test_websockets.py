"""WebSockets through the real ASGI application (routing, session, origin check): only active
arenas and the voter's own battles, a 404 for anything else, connections capped per address."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client

from arena.asgi import application
from arena.battles.ratelimit import connection_acquire

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def arena(transactional_db: None) -> Any:
    from arena.battles.demo_data import demo_load

    return demo_load()


def session_cookie(client: Client) -> str:
    client.get("/arena/text-to-image/")  # the page gives the voter an id in its session
    return client.cookies["sessionid"].value


def battle_of(client: Client) -> str:
    session_cookie(client)
    client.get("/api/arenas")
    response = client.post(
        "/api/arenas/text-to-image/battles", {"prompt": "a fox"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def socket(path: str, *, cookie: str = "", address: str = "10.1.2.3") -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    communicator.scope["client"] = (address, 50000)
    return communicator


async def refused(path: str, **kwargs: Any) -> int | None:
    communicator = socket(path, **kwargs)
    connected, code = await communicator.connect()
    if connected:
        await communicator.disconnect()
        return None
    return code


async def test_leaderboard_socket_of_an_active_arena_opens(arena: Any) -> None:
    communicator = socket("/ws/arenas/text-to-image/leaderboard/")
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()


async def test_leaderboard_socket_of_an_unknown_arena_is_a_404(arena: Any) -> None:
    assert await refused("/ws/arenas/no-such-arena/leaderboard/") == 4404


async def test_a_150_character_slug_is_a_404_not_a_crash(arena: Any) -> None:
    assert await refused(f"/ws/arenas/{'a' * 150}/leaderboard/") == 4404


async def test_an_unknown_websocket_path_is_a_404_not_a_crash(arena: Any) -> None:
    assert await refused("/ws/nothing/here/") == 4404
    assert await refused("/ws/battles/not-a-uuid/") == 4404


async def test_someone_elses_battle_gets_the_same_answer_as_a_missing_one(arena: Any) -> None:
    from asgiref.sync import sync_to_async

    owner, stranger = Client(), Client()
    battle_id = await sync_to_async(battle_of)(owner)
    stranger_cookie = await sync_to_async(session_cookie)(stranger)
    others = await refused(f"/ws/battles/{battle_id}/", cookie=stranger_cookie)
    missing = await refused(
        "/ws/battles/00000000-0000-0000-0000-000000000000/", cookie=stranger_cookie
    )
    anonymous = await refused(f"/ws/battles/{battle_id}/")
    assert others == missing == anonymous == 4404

    mine = socket(f"/ws/battles/{battle_id}/", cookie=owner.cookies["sessionid"].value)
    connected, _ = await mine.connect()
    assert connected
    message = await mine.receive_json_from(timeout=5)
    assert message["type"] == "battle" and message["state"]["id"] == battle_id
    await mine.disconnect()


async def test_connections_per_address_are_capped_and_given_back(arena: Any, settings: Any) -> None:
    settings.ARENA_WS_MAX_PER_ADDRESS = 3
    path = "/ws/arenas/text-to-image/leaderboard/"
    held = []
    for _ in range(3):
        communicator = socket(path, address="203.0.113.7")
        assert (await communicator.connect())[0]
        held.append(communicator)
    assert await refused(path, address="203.0.113.7") == 4429
    # another address is not affected; the same IPv6 /64 counts as one address
    assert await refused(path, address="198.51.100.1") is None
    v6 = []
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"):
        communicator = socket(path, address=host)
        assert (await communicator.connect())[0]
        v6.append(communicator)
    assert await refused(path, address="2001:db8:1:2:abcd::9") == 4429
    await held[0].disconnect()  # a closed socket gives its slot back
    assert await refused(path, address="203.0.113.7") is None
    for communicator in held[1:] + v6:
        await communicator.disconnect()


@pytest.fixture
def redis_cache(settings: Any, redis_url: str) -> Iterator[None]:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "wstest",
        }
    }
    cache.clear()
    yield
    cache.clear()


async def test_sockets_open_no_new_redis_connections(
    arena: Any, settings: Any, redis_url: str
) -> None:
    """Each socket is its own asyncio context, so Django's `caches` gives it its own cache
    object; with the project's backend they share the process's connection pool (issue 10:
    every socket opened two new Redis connections, to count its slot and to give it back)."""
    import redis as redis_lib

    settings.CACHES = {
        "default": {
            "BACKEND": "arena.ops.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "wsshared",
        }
    }
    settings.ARENA_WS_MAX_PER_ADDRESS = 50
    server = redis_lib.Redis.from_url(redis_url)
    path = "/ws/arenas/text-to-image/leaderboard/"

    async def open_and_close() -> None:
        communicator = socket(path)
        assert (await communicator.connect())[0]
        await communicator.disconnect()

    await open_and_close()  # the pool's first connection
    before = server.info("stats")["total_connections_received"]
    for _ in range(5):
        await open_and_close()
    assert server.info("stats")["total_connections_received"] - before <= 1


def test_slots_of_a_crashed_process_expire(redis_cache: None, settings: Any) -> None:
    # a process that died holding two sockets never released them ...
    assert connection_acquire(key="crashed", limit=2, ttl_s=1)
    assert connection_acquire(key="crashed", limit=2, ttl_s=1)
    assert not connection_acquire(key="crashed", limit=2, ttl_s=1)
    time.sleep(1.5)  # ... but the count expires
    assert connection_acquire(key="crashed", limit=2, ttl_s=1)


@pytest.mark.services
def test_a_real_server_refuses_odd_socket_paths_without_a_crash(tmp_path: Any) -> None:
    """Through daphne: a refused handshake is an HTTP 403 (what ASGI servers send for a socket
    closed before accept), never a 500, and the server logs no traceback."""
    import websocket

    from tests.live import LiveArena

    live = LiveArena(tmp_path).start()
    try:
        base = live.base.replace("http", "ws")
        for path in (
            f"/ws/arenas/{'a' * 150}/leaderboard/",
            "/ws/arenas/nope/leaderboard/",
            "/ws/nothing/",
            "/ws/battles/00000000-0000-0000-0000-000000000000/",
        ):
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                websocket.create_connection(base + path, origin=live.base, timeout=10)
            assert refused.value.status_code == 403, path
        ok = websocket.create_connection(
            base + "/ws/arenas/text-to-image/leaderboard/", origin=live.base, timeout=10
        )
        ok.close()
    finally:
        live.stop()
    assert "Traceback" not in live.logs()
