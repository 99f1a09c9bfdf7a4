"""WebSocket consumers: check who is asking, join a group, forward its messages.

Whatever is refused (an unknown path or arena, a missing battle or someone else's) closes with
the same 4404 before the handshake completes, so a socket cannot tell whether a battle exists.
Open sockets are counted per client address (ARENA_WS_MAX_PER_ADDRESS).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from arena.battles import events, selectors
from arena.battles.errors import NotFound
from arena.battles.ratelimit import connection_acquire, connection_release
from arena.battles.voters import scope_address_hash, voter_id_from_session

CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429


class _CountedConsumer(AsyncJsonWebsocketConsumer):
    """Joins one group once `target()` names it; holds one of its address's slots meanwhile.

    Asynchronous, so a push is forwarded on the server's event loop as it arrives (issue 10:
    a synchronous consumer handed every message to a thread and its send back to the loop);
    what reads the database or the cache runs in a thread (`database_sync_to_async`)."""

    group = ""
    slot = ""

    def target(self) -> str:
        """The group to join, or "" for a 404 (runs in a thread)."""
        raise NotImplementedError

    def opened(self) -> dict[str, Any] | None:
        """A first message once the group is joined, or None (runs in a thread)."""
        return None

    def _admit(self) -> tuple[str, str]:
        """(group, slot): ("", "") for a 404, (group, "") when the address has no slot left."""
        group = self.target()
        if not group:
            return "", ""
        slot = scope_address_hash(self.scope) or "no-address"
        if not connection_acquire(
            key=slot, limit=settings.ARENA_WS_MAX_PER_ADDRESS, ttl_s=settings.ARENA_WS_COUNT_TTL_S
        ):
            return group, ""
        return group, slot

    async def connect(self) -> None:
        group, slot = await database_sync_to_async(self._admit)()
        if not group:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if not slot:
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.slot, self.group = slot, group
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        first = await database_sync_to_async(self.opened)()
        if first is not None:
            await self.send_json(first)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.slot:
            slot, self.slot = self.slot, ""
            await database_sync_to_async(connection_release)(key=slot)


class BattleConsumer(_CountedConsumer):
    """Pushes a battle's public state to the voter who owns it."""

    battle_id: object = None

    def target(self) -> str:
        voter_id = voter_id_from_session(self.scope.get("session"), create=False)
        try:  # another voter's battle reads exactly like a missing one
            self.battle_id = selectors.battle_owned_id(
                battle_id=self.scope["url_route"]["kwargs"]["battle_id"], voter_id=voter_id
            )
        except NotFound:
            return ""
        return events.battle_group(self.battle_id)

    def opened(self) -> dict[str, Any]:
        # Whatever happened before the socket opened is not lost: send the current state,
        # read once the group is joined (so a push cannot fall between the two).
        state = selectors.battle_state(selectors.battle_get(battle_id=self.battle_id))
        return {"type": "battle", "state": state}

    async def battle_state(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "battle", "state": event["state"]})


class LeaderboardConsumer(_CountedConsumer):
    """Pushes a new leaderboard to open leaderboard pages of one active arena."""

    def target(self) -> str:
        try:
            arena = selectors.arena_get(slug=self.scope["url_route"]["kwargs"]["slug"])
        except NotFound:
            return ""
        return events.leaderboard_group(arena.slug)

    async def leaderboard_update(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "leaderboard", "board": event["board"]})


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any other WebSocket path: refused like a missing battle, never a crash."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_NOT_FOUND)
