"""Reads of votes and standings. Leaderboards are read from stored rows; only an arena that
has not been refreshed yet (a handful of votes) has its live Elo replayed on read."""

from __future__ import annotations

from typing import cast

from django.db.models import Max, QuerySet

from arena.battles.models import Arena, Contender
from arena.votes.models import EloRating, Vote
from arena.votes.services import elo_row, elo_standings

# Before an arena's first refresh its stored Elo rows are empty (the vote path does not write
# them): up to this many counted votes the board replays them on read, so its counts and Elo
# are current; past it (a refresh is overdue) the stored rows are shown as they are.
LIVE_REPLAY_MAX_VOTES = 2000


def _live_standings(*, arena: Arena, counted: QuerySet[Vote], total: int) -> dict[int, EloRating]:
    stored = {row.contender_id: row for row in EloRating.objects.filter(arena=arena)}
    if total > LIVE_REPLAY_MAX_VOTES:
        return stored
    votes = counted.order_by("created_at", "pk").values_list(
        "battle__left_id", "battle__right_id", "choice"
    )
    standings = elo_standings(votes, both_bad_counts=arena.both_bad_counts_as_tie)
    return {
        cast(int, pk): elo_row(arena=arena, contender_id=cast(int, pk), standing=s)
        for pk, s in standings.items()
    }


def leaderboard_get(*, arena: Arena) -> dict[str, object]:
    """Online Elo standings of every enabled contender in the arena, best first."""
    contenders = list(
        Contender.objects.filter(arenas=arena, enabled=True).select_related("provider")
    )
    counted = Vote.objects.filter(battle__arena=arena, is_valid=True)
    total = counted.count()
    ratings = _live_standings(arena=arena, counted=counted, total=total)
    rows = []
    for contender in contenders:
        row = ratings.get(contender.pk) or EloRating(arena=arena, contender=contender)
        rows.append((row.rating, contender, row))
    rows.sort(key=lambda item: (-item[0], item[1].name))
    computed_at = EloRating.objects.filter(arena=arena).aggregate(at=Max("updated_at"))["at"]
    return {
        "arena": arena.slug,
        "title": arena.title,
        "method": "elo",
        "votes": total,
        "computed_at": computed_at.isoformat() if computed_at else None,
        "rows": [
            {
                "rank": rank,
                "contender_id": contender.pk,
                "model": contender.name,
                "organization": contender.organization,
                "demo": contender.is_demo,
                "rating": round(rating, 1),
                "votes": row.votes,
                "wins": row.wins,
                "losses": row.losses,
                "ties": row.ties,
                "win_rate": round(row.win_rate, 4) if row.win_rate is not None else None,
            }
            for rank, (rating, contender, row) in enumerate(rows, start=1)
        ],
    }
