from __future__ import annotations

from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    """One model, one prompt, every parameter the arena offers: never counted anywhere."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "arena.playground"
    label = "playground"
