from __future__ import annotations

from django.apps import AppConfig


class VotesConfig(AppConfig):
    name = "arena.votes"
    label = "votes"
    verbose_name = "Arena: votes and ratings"
