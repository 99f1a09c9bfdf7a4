"""Pushes to the Channels layer (arena.battles.events): a worker's pushes go through one event
loop of its process, so channels_redis keeps its connection between them (issue 10: a new loop
and a new Redis connection per push cost ~3.8 ms of every battle's way to "ready")."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer

from arena.battles import events


def _recording(layer: Any, loops: list[asyncio.AbstractEventLoop]) -> None:
    send = layer.group_send

    async def group_send(group: str, message: dict[str, Any]) -> None:
        loops.append(asyncio.get_running_loop())
        await send(group, message)

    layer.group_send = group_send


def test_pushes_from_worker_threads_share_one_loop_and_arrive(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"test-{uuid.uuid4().hex[:8]}")
    loops: list[asyncio.AbstractEventLoop] = []
    _recording(layer, loops)
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    group = events.battle_group(uuid.uuid4())
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    def push(n: int) -> None:
        events.battle_state_push(group.removeprefix("battle_"), {"n": n})

    push(1)
    other = threading.Thread(target=push, args=(2,))  # another thread of the same process
    other.start()
    other.join()
    push(3)
    assert len(loops) == 3 and len(set(map(id, loops))) == 1, loops
    assert all(loop.is_running() for loop in loops)

    async def received() -> list[Any]:
        return [(await layer.receive(channel))["state"]["n"] for _ in range(3)]

    assert sorted(async_to_sync(received)()) == [1, 2, 3]
    # the layer's connections live on the push loop now (each async_to_sync loop is closed)
    asyncio.run_coroutine_threadsafe(layer.flush(), loops[0]).result(timeout=5)


def test_the_in_memory_layer_is_still_reached_through_async_to_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its queues belong to the loop that serves the sockets, never to the push loop."""
    layer = InMemoryChannelLayer()
    loops: list[asyncio.AbstractEventLoop] = []
    _recording(layer, loops)
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("battle_x", channel)
    events.battle_state_push("x", {"n": 1})
    pushes = events._push_loop[1] if events._push_loop else None
    assert len(loops) == 1 and loops[0] is not pushes
    assert async_to_sync(layer.receive)(channel)["state"] == {"n": 1}
