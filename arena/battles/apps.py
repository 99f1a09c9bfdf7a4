from __future__ import annotations

from django.apps import AppConfig


class BattlesConfig(AppConfig):
    name = "arena.battles"
    label = "battles"
    verbose_name = "Arena: battles and models"

    def ready(self) -> None:
        from django.conf import settings

        from generators import concurrency

        # Provider concurrency caps are shared by every worker through Redis when configured.
        concurrency.configure(settings.REDIS_URL or None)
