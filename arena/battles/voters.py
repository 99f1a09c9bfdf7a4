"""The anonymous voter id, kept in the session (shared by pages, API and WebSockets), and the
client's network address, reduced to a keyed hash before anything stores or counts it."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import uuid
from collections.abc import Iterable, Mapping
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


def _parse_ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """One address as a proxy writes it: `1.2.3.4`, `1.2.3.4:port`, `::1` or `[::1]:port`."""
    text = raw.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port; IPv6 has two colons or more
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def address_identity(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What one client may count as: an IPv4 address, or an IPv6 /64 (one subscriber's
    network, which a single machine can rotate through at will). IPv4-mapped IPv6 is IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address), 64), strict=False))
    return str(address)


def client_address(*, remote_addr: str, forwarded_for: str, trusted_proxies: int) -> str:
    """The client's address identity, or "" when none is usable.

    With N trusted proxies the client is the N-th X-Forwarded-For entry from the right: each
    of our proxies appends the address it saw, and everything further left was written by the
    client itself. Too few or malformed entries give no address rather than a guess.
    """
    if trusted_proxies <= 0:
        raw = remote_addr
    else:
        entries = forwarded_for.split(",") if forwarded_for.strip() else []
        if len(entries) < trusted_proxies:
            return ""
        raw = entries[-trusted_proxies]
    address = _parse_ip(raw) if raw else None
    return address_identity(address) if address is not None else ""


def _address_hash(address: str) -> str:
    return keyed_hash("address", address, length=32) if address else ""


def client_address_hash(request: Any) -> str:
    """A keyed hash of the client's address identity (never the IP); "" when none is usable."""
    meta: Mapping[str, str] = request.META
    return _address_hash(
        client_address(
            remote_addr=meta.get("REMOTE_ADDR", "") or "",
            forwarded_for=meta.get("HTTP_X_FORWARDED_FOR", "") or "",
            trusted_proxies=settings.ARENA_TRUSTED_PROXIES,
        )
    )


def scope_address_hash(scope: Mapping[str, Any]) -> str:
    """The same hash for an ASGI (WebSocket) connection."""
    client = scope.get("client") or ("", 0)
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or []
    forwarded = ",".join(
        value.decode("latin-1") for name, value in headers if name.lower() == b"x-forwarded-for"
    )
    return _address_hash(
        client_address(
            remote_addr=str(client[0] or ""),
            forwarded_for=forwarded,
            trusted_proxies=settings.ARENA_TRUSTED_PROXIES,
        )
    )
