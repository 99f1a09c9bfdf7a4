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


def client_address_hash(request: Any) -> str:
    """A keyed hash of the client address: enough to rate-limit and spot abuse, never the IP."""
    import hashlib
    import hmac

    from django.conf import settings

    address = request.META.get("REMOTE_ADDR", "")
    if settings.ARENA_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            address = forwarded.split(",")[0].strip()
    if not address:
        return ""
    key = f"arena-address:{settings.SECRET_KEY}".encode()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]
