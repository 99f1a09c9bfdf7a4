"""The only place that talks to the Channels layer; services call these after commit."""

from __future__ import annotations

import hashlib
import logging
import re

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


_GROUP_NAME = re.compile(r"[A-Za-z0-9_.-]{1,99}")  # what Channels accepts as a group name


def _group(prefix: str, name: str) -> str:
    """A valid group name whatever `name` is (an odd or long one is hashed, never an error)."""
    group = f"{prefix}_{name}"
    if _GROUP_NAME.fullmatch(group):
        return group
    return f"{prefix}_h{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def battle_group(battle_id: object) -> str:
    return _group("battle", str(battle_id))


def leaderboard_group(slug: str) -> str:
    return _group("leaderboard", slug)


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
