"""WebSocket consumers: check who is asking, join a group, forward its messages.

Whatever is refused (an unknown path or arena, a missing battle or someone else's) closes with
the same 4404 before the handshake completes, so a socket cannot tell whether a battle exists.
Open sockets are counted per client address (ARENA_WS_MAX_PER_ADDRESS).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer
from django.conf import settings

from arena.battles import events, selectors
from arena.battles.errors import NotFound
from arena.battles.ratelimit import connection_acquire, connection_release
from arena.battles.voters import scope_address_hash, voter_id_from_session

CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 4429


class _CountedConsumer(JsonWebsocketConsumer):
    """Joins one group once `target()` names it; holds one of its address's slots meanwhile."""

    group = ""
    slot = ""

    def target(self) -> str:
        """The group to join, or "" for a 404."""
        raise NotImplementedError

    def connect(self) -> None:
        group = self.target()
        if not group:
            self.close(code=CLOSE_NOT_FOUND)
            return
        slot = scope_address_hash(self.scope) or "no-address"
        if not connection_acquire(
            key=slot, limit=settings.ARENA_WS_MAX_PER_ADDRESS, ttl_s=settings.ARENA_WS_COUNT_TTL_S
        ):
            self.close(code=CLOSE_TOO_MANY)
            return
        self.slot, self.group = slot, group
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()
        self.opened()

    def opened(self) -> None:
        pass

    def disconnect(self, code: int) -> None:
        if self.group:
            async_to_sync(self.channel_layer.group_discard)(self.group, self.channel_name)
        if self.slot:
            connection_release(key=self.slot)
            self.slot = ""


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

    def opened(self) -> None:
        # Whatever happened before the socket opened is not lost: send the current state,
        # read once the group is joined (so a push cannot fall between the two).
        state = selectors.battle_state(selectors.battle_get(battle_id=self.battle_id))
        self.send_json({"type": "battle", "state": state})

    def battle_state(self, event: dict[str, Any]) -> None:
        self.send_json({"type": "battle", "state": event["state"]})


class LeaderboardConsumer(_CountedConsumer):
    """Pushes a new leaderboard to open leaderboard pages of one active arena."""

    def target(self) -> str:
        try:
            arena = selectors.arena_get(slug=self.scope["url_route"]["kwargs"]["slug"])
        except NotFound:
            return ""
        return events.leaderboard_group(arena.slug)

    def leaderboard_update(self, event: dict[str, Any]) -> None:
        self.send_json({"type": "leaderboard", "board": event["board"]})


class NotFoundConsumer(JsonWebsocketConsumer):
    """Any other WebSocket path: refused like a missing battle, never a crash."""

    def connect(self) -> None:
        self.close(code=CLOSE_NOT_FOUND)
