"""Reads of votes and standings. Leaderboards are read from stored rows, never computed here."""

from __future__ import annotations

from django.db.models import Max

from arena.battles.models import Arena, Contender
from arena.votes.models import EloRating, Vote


def leaderboard_get(*, arena: Arena) -> dict[str, object]:
    """Online Elo standings of every enabled contender in the arena, best first."""
    contenders = list(
        Contender.objects.filter(arenas=arena, enabled=True).select_related("provider")
    )
    ratings = {row.contender_id: row for row in EloRating.objects.filter(arena=arena)}
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
        "votes": Vote.objects.filter(battle__arena=arena, is_valid=True).count(),
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
