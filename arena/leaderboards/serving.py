"""Serving leaderboards like static files: each (snapshot generation, category, kind) is
rendered once, kept as bytes in the cache, and validated with ETag / Last-Modified.

A refresh writes all boards of an arena at once, so the newest snapshot id of the arena names
everything a leaderboard response shows (the board, the category tabs, the history). A
request then costs the arena lookup, one indexed query for that id, and a cache read; a
client that already has it gets a 304 without even the cache read.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import http_date, parse_etags

from arena.battles.models import Arena
from arena.leaderboards.models import LeaderboardSnapshot

RENDER_VERSION = 2  # bump when the page or the JSON changes shape: old cached bytes lapse
# A new generation replaces the last one with every refresh (seconds apart under load): keep
# rendered bytes briefly, so the cache never fills with superseded pages.
CACHE_TIMEOUT_S = 600


@dataclass(frozen=True)
class Generation:
    snapshot_id: int
    computed_at: datetime


def leaderboard_generation(*, arena: Arena) -> Generation | None:
    """The arena's newest snapshot (None before the first refresh)."""
    row = (
        LeaderboardSnapshot.objects.filter(arena=arena)
        .order_by("-pk")
        .values_list("pk", "computed_at")
        .first()
    )
    return None if row is None else Generation(*row)


# The newest renders also kept in this process: a tag names immutable bytes (its snapshot id
# changes with every refresh), so a hit needs no Redis round trip and no unpickling of the page.
LOCAL_ENTRIES = 32
_local: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
_local_lock = threading.Lock()


def _local_get(tag: str) -> tuple[str, bytes] | None:
    with _local_lock:
        hit = _local.get(tag)
        if hit is not None:
            _local.move_to_end(tag)
        return hit


def _local_put(tag: str, entry: tuple[str, bytes]) -> None:
    with _local_lock:
        _local[tag] = entry
        _local.move_to_end(tag)
        while len(_local) > LOCAL_ENTRIES:
            _local.popitem(last=False)


def cached_leaderboard_response(
    request: HttpRequest,
    *,
    arena: Arena,
    category: str,
    kind: str,
    render: Callable[[], HttpResponse],
) -> HttpResponse:
    """``render()``'s response for this snapshot generation, rendered at most once per
    generation, with validators; 304 when the client's copy is current.

    Only successful (200) renders are cached, so a cached entry also means the category was
    valid; ``render`` raises or returns the error response otherwise.
    """
    generation = leaderboard_generation(arena=arena)
    if generation is None:  # the live Elo board before the first refresh: not cached
        response = render()
        response["Cache-Control"] = "no-cache"
        return response
    digest = hashlib.sha256(category.encode()).hexdigest()[:16]
    tag = f"lb{RENDER_VERSION}-{arena.pk}-{generation.snapshot_id}-{digest}-{kind}"
    etag = f'"{tag}"'
    last_modified = http_date(generation.computed_at.timestamp())
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        not_modified = HttpResponseNotModified()
        not_modified["ETag"] = etag
        not_modified["Last-Modified"] = last_modified
        return not_modified
    local_key = f"{tag}-{generation.computed_at.timestamp()}"  # ids can repeat (a test db)
    cached = _local_get(local_key)
    if cached is None:
        cached = cache.get(tag)
        if cached is not None:
            _local_put(local_key, cached)
    if cached is not None:
        content_type, body = cached
        response = HttpResponse(body, content_type=content_type)
    else:
        response = render()
        if response.status_code != 200:
            return response
        cached = (response["Content-Type"], response.content)
        cache.set(tag, cached, timeout=CACHE_TIMEOUT_S)
        _local_put(local_key, cached)
    response["ETag"] = etag
    response["Last-Modified"] = last_modified
    response["Cache-Control"] = "no-cache"  # revalidate each time: a refresh may land any second
    return response
