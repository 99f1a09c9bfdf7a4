from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class LeaderboardsConfig(AppConfig):
    name = "arena.leaderboards"
    label = "leaderboards"
    verbose_name = "Arena: leaderboard snapshots"

    def ready(self) -> None:
        """Answer the signals of the apps below (they must not import this one)."""
        from arena.battles.signals import rating_uncertainty
        from arena.votes.signals import vote_stored

        vote_stored.connect(_refresh_after_vote, dispatch_uid="leaderboards-refresh-on-vote")
        rating_uncertainty.connect(_interval_widths, dispatch_uid="leaderboards-ci-widths")


def _refresh_after_vote(sender: Any, arena_id: int, **_: Any) -> None:
    from arena.leaderboards.services import leaderboard_refresh_request

    leaderboard_refresh_request(arena_id=arena_id)


def _interval_widths(sender: Any, arena: Any, **_: Any) -> dict[str, float]:
    """Width of each rated contender's interval on the arena's latest snapshot."""
    from arena.leaderboards.selectors import snapshot_latest

    snapshot = snapshot_latest(arena=arena)
    return {row["model"]: row["ci_high"] - row["ci_low"]
            for row in (snapshot.rows if snapshot else [])
            if row.get("ci_low") is not None and row.get("votes")}
