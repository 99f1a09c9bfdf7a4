from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class VotesConfig(AppConfig):
    name = "arena.votes"
    label = "votes"
    verbose_name = "Arena: votes and ratings"

    def ready(self) -> None:
        """Answer the battles app's signals (it must not import this one)."""
        from arena.battles.signals import vote_reason_words

        vote_reason_words.connect(_reason_words, dispatch_uid="votes-reason-words")


def _reason_words(sender: Any, reason: str, **_: Any) -> str | None:
    from arena.votes.models import voter_reason

    return voter_reason(reason)
