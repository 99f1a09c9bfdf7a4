"""The anonymous voter id, kept in the session (shared by pages, API and WebSockets)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

from django.conf import settings

SESSION_KEY = "arena_voter_id"


def voter_id_from_session(session: Any, *, create: bool = True) -> str:
    if session is None:
        return ""
    voter_id = session.get(SESSION_KEY, "")
    if not voter_id and create:
        voter_id = uuid.uuid4().hex
        session[SESSION_KEY] = voter_id
    return str(voter_id)


def keyed_hash(purpose: str, value: str, *, length: int) -> str:
    """A hash keyed by the site's secret, one key per purpose: linkable within this site and
    this purpose only, never reversible to the value."""
    key = f"arena-{purpose}:{settings.SECRET_KEY}".encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:length]


def client_address_hash(request: Any) -> str:
    """A keyed hash of the client address: enough to rate-limit and spot abuse, never the IP."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.ARENA_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            address = forwarded.split(",")[0].strip()
    if not address:
        return ""
    return keyed_hash("address", address, length=32)
