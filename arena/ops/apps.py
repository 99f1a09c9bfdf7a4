from __future__ import annotations

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "arena.ops"
    label = "ops"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from arena.battles.models import Battle
        from arena.battles.signals import generation_finished, instant_battle_served
        from arena.ops import metrics
        from arena.votes.models import Vote

        post_save.connect(metrics.on_vote_saved, sender=Vote, dispatch_uid="ops-vote-metric")
        post_save.connect(metrics.on_battle_saved, sender=Battle, dispatch_uid="ops-battle-metric")
        generation_finished.connect(
            metrics.on_generation_finished, dispatch_uid="ops-generation-metric"
        )
        instant_battle_served.connect(
            metrics.on_instant_battle_served, dispatch_uid="ops-instant-battle-metric"
        )
