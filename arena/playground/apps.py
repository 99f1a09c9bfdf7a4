from __future__ import annotations

from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    """One model, one prompt, every parameter the arena offers: never counted anywhere."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "arena.playground"
    label = "playground"

    def ready(self) -> None:
        from arena.battles.signals import sweep
        from arena.playground.services import generations_sweep

        # the battles' periodic sweep also ends this app's generations left running
        sweep.connect(generations_sweep, dispatch_uid="playground-generations-sweep")
