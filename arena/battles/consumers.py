"""WebSocket consumers: check who is asking, join a group, forward its messages."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer

from arena.battles import events, selectors
from arena.battles.errors import NotFound
from arena.battles.voters import voter_id_from_session


class BattleConsumer(JsonWebsocketConsumer):
    """Pushes a battle's public state to the voter who owns it."""

    group = ""

    def connect(self) -> None:
        battle_id = self.scope["url_route"]["kwargs"]["battle_id"]
        voter_id = voter_id_from_session(self.scope.get("session"), create=False)
        try:
            battle = selectors.battle_get(battle_id=battle_id)
        except NotFound:
            self.close(code=4404)
            return
        if not voter_id or battle.voter_id != voter_id:
            self.close(code=4403)
            return
        self.group = events.battle_group(battle.pk)
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()
        # Whatever happened before the socket opened is not lost: send the current state.
        state = selectors.battle_state(selectors.battle_get(battle_id=battle.pk))
        self.send_json({"type": "battle", "state": state})

    def disconnect(self, code: int) -> None:
        if self.group:
            async_to_sync(self.channel_layer.group_discard)(self.group, self.channel_name)

    def battle_state(self, event: dict[str, Any]) -> None:
        self.send_json({"type": "battle", "state": event["state"]})


class LeaderboardConsumer(JsonWebsocketConsumer):
    """Pushes a new leaderboard to open leaderboard pages of one arena."""

    group = ""

    def connect(self) -> None:
        self.group = events.leaderboard_group(self.scope["url_route"]["kwargs"]["slug"])
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()

    def disconnect(self, code: int) -> None:
        if self.group:
            async_to_sync(self.channel_layer.group_discard)(self.group, self.channel_name)

    def leaderboard_update(self, event: dict[str, Any]) -> None:
        self.send_json({"type": "leaderboard", "board": event["board"]})
