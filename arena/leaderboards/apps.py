from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import AppConfig


class LeaderboardsConfig(AppConfig):
    name = "arena.leaderboards"
    label = "leaderboards"
    verbose_name = "Arena: leaderboard snapshots"

    def ready(self) -> None:
        """Answer the signals of the apps below (they must not import this one)."""
        from arena.battles.signals import sampler_state
        from arena.votes.signals import vote_stored

        vote_stored.connect(_refresh_after_vote, dispatch_uid="leaderboards-refresh-on-vote")
        sampler_state.connect(_sampler_state, dispatch_uid="leaderboards-sampler-state")


def _refresh_after_vote(sender: Any, arena_id: int, **_: Any) -> None:
    from arena.leaderboards.services import leaderboard_refresh_request

    leaderboard_refresh_request(arena_id=arena_id)


def _sampler_state(sender: Any, arena_id: int, **_: Any) -> tuple[int | None, Callable[[], object]]:
    """The newest overall snapshot's id, and how to read the sampler state it stored."""
    from arena.leaderboards.models import LeaderboardSnapshot

    latest = (
        LeaderboardSnapshot.objects.filter(arena_id=arena_id, category="")
        .order_by("-computed_at")
        .values_list("pk", flat=True)
        .first()
    )

    def load() -> object:
        if latest is None:
            return None
        state = (
            LeaderboardSnapshot.objects.filter(pk=latest)
            .values_list("matrices__sampler", flat=True)
            .first()
        )
        if isinstance(state, dict) and state.get("contender_ids"):
            # the models under their current names: a rename since the refresh keeps its state
            from arena.battles.models import Contender

            ids = state["contender_ids"]
            current = dict(Contender.objects.filter(pk__in=ids).values_list("pk", "name"))
            state["models"] = [
                current.get(pk, name) for pk, name in zip(ids, state["models"], strict=True)
            ]
        return state

    return latest, load
