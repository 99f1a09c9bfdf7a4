"""The only place that talks to the Channels layer; services call these after commit."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def battle_group(battle_id: object) -> str:
    return f"battle_{battle_id}"


def leaderboard_group(slug: str) -> str:
    return f"leaderboard_{slug}"


def _send(group: str, message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # a push is best effort: the page also polls; never lose the write
        logger.warning("could not push to %s: %s", group, exc)


def battle_state_push(battle_id: object, state: dict[str, object]) -> None:
    _send(battle_group(battle_id), {"type": "battle.state", "state": state})


def leaderboard_push(slug: str, board: dict[str, object]) -> None:
    _send(leaderboard_group(slug), {"type": "leaderboard.update", "board": board})
