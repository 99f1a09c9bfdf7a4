"""Prompt moderation before any battle exists: a blocklist and an optional remote check.

The remote check speaks the OpenAI moderation format (POST {"input": text} → results[0].flagged),
which several self-hosted moderation servers also serve.
"""

from __future__ import annotations

import logging
import os
import re
from functools import lru_cache

import requests
from django.conf import settings

from arena.battles.errors import ArenaError

logger = logging.getLogger(__name__)


class PromptRefused(ArenaError):
    status = 400
    code = "prompt_refused"


@lru_cache(maxsize=8)
def _blocklist_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not terms:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\b", re.IGNORECASE)


def prompt_moderate(text: str) -> None:
    """Raise `PromptRefused` with a message a person understands; never create the battle."""
    pattern = _blocklist_pattern(tuple(t.strip() for t in settings.ARENA_PROMPT_BLOCKLIST if t))
    if pattern is not None and pattern.search(text):
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
        response = requests.post(url, json={"input": text}, headers=headers, timeout=(3, 10))
        response.raise_for_status()
        flagged = bool(response.json()["results"][0]["flagged"])
    except (requests.RequestException, ValueError, KeyError, IndexError, TypeError) as exc:
        logger.warning("moderation service failed: %s", exc)
        if settings.ARENA_MODERATION_FAIL_CLOSED:
            raise PromptRefused(
                "We could not check this prompt right now; please try again in a moment."
            ) from exc
        return
    if flagged:
        raise PromptRefused(
            "This prompt was refused by the content policy. Please write a different one."
        )
