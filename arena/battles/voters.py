"""The anonymous voter id, kept in the session (shared by pages, API and WebSockets)."""

from __future__ import annotations

import uuid
from typing import Any

SESSION_KEY = "arena_voter_id"


def voter_id_from_session(session: Any, *, create: bool = True) -> str:
    if session is None:
        return ""
    voter_id = session.get(SESSION_KEY, "")
    if not voter_id and create:
        voter_id = uuid.uuid4().hex
        session[SESSION_KEY] = voter_id
    return str(voter_id)
