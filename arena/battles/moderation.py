"""Prompt moderation before any battle exists: a blocklist and an optional remote check.

Both see the prompt in its canonical form (arena/battles/textnorm.py): fullwidth letters,
Cyrillic or Greek look-alikes and invisible characters do not get a blocked term through.

The remote check speaks the OpenAI moderation format (POST {"input": text} → results[0].flagged),
which several self-hosted moderation servers also serve. When it cannot answer, the prompt is
refused by default (ARENA_MODERATION_FAIL_CLOSED) with a 503 and Retry-After: the failure is
transient and the same prompt may well pass a moment later, so it is not the voter's 400.
"""

from __future__ import annotations

import logging
import os
import re
from functools import lru_cache

import requests
from django.conf import settings

from arena.battles.errors import ArenaError, ErrorCode
from arena.battles.textnorm import prompt_canonical

logger = logging.getLogger(__name__)

MODERATION_RETRY_AFTER_S = 5


class PromptRefused(ArenaError):
    code = ErrorCode.PROMPT_REFUSED


class ModerationUnavailable(PromptRefused):
    """The moderation service did not answer: refused for now, worth retrying."""

    code = ErrorCode.MODERATION_UNAVAILABLE
    retry_after = MODERATION_RETRY_AFTER_S


@lru_cache(maxsize=8)
def _blocklist_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    canonical = sorted(
        {prompt_canonical(t) for t in terms if t.strip()} - {""}, key=len, reverse=True
    )
    if not canonical:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(t) for t in canonical) + r")\b")


def prompt_blocked(text: str) -> bool:
    """Whether `text` contains a blocklisted term, however it is spelt (see textnorm)."""
    pattern = _blocklist_pattern(tuple(settings.ARENA_PROMPT_BLOCKLIST))
    return pattern is not None and pattern.search(prompt_canonical(text)) is not None


def prompt_moderate(text: str) -> None:
    """Raise `PromptRefused` with a message a person understands; never create the battle."""
    if prompt_blocked(text):
        raise PromptRefused(
            "This prompt is not allowed in this arena (it contains a blocked term). "
            "Please write a different one."
        )
    url = settings.ARENA_MODERATION_URL
    if not url:
        return
    headers = {}
    key = os.environ.get(settings.ARENA_MODERATION_KEY_ENV, "")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        response = requests.post(
            url, json={"input": text}, headers=headers, timeout=(3, 10), allow_redirects=False
        )
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        flagged = response.json()["results"][0]["flagged"]
        if not isinstance(flagged, bool):  # null, "false", 0: not an answer to trust
            raise ValueError(f"flagged is {flagged!r}, not true or false")
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
        logger.warning("moderation service failed: %s", exc)
        if settings.ARENA_MODERATION_FAIL_CLOSED:
            raise ModerationUnavailable(
                "We could not check this prompt right now; please try again in a moment."
            ) from exc
        return
    if flagged:
        raise PromptRefused(
            "This prompt was refused by the content policy. Please write a different one."
        )
