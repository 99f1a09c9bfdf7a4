"""Reads of stored leaderboards. Nothing here fits a model: pages never compute ratings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from django.conf import settings

from arena.battles.models import Arena
from arena.leaderboards.changelog import changes_latest
from arena.leaderboards.models import LeaderboardSnapshot
from arena.leaderboards.rows import BoardJSON, BoardRow, board_rows
from arena.votes.models import InvalidReason
from arena.votes.selectors import leaderboard_get as live_elo_board


def leaderboard_categories(*, arena: Arena) -> list[str]:
    return sorted(
        c
        for c in LeaderboardSnapshot.objects.filter(arena=arena)
        .order_by()
        .values_list("category", flat=True)
        .distinct()
        if c
    )


def snapshot_latest(*, arena: Arena, category: str = "") -> LeaderboardSnapshot | None:
    return (
        LeaderboardSnapshot.objects.filter(arena=arena, category=category)
        .order_by("-computed_at")
        .first()
    )


def leaderboard_latest(*, arena: Arena, category: str = "") -> BoardJSON:
    """The latest snapshot in the API's shape; before the first one, the stored live Elo."""
    snapshot = snapshot_latest(arena=arena, category=category)
    if snapshot is None:
        board = live_elo_board(arena=arena)
        live = [BoardRow.from_dict(row) for row in cast("list[dict[str, Any]]", board["rows"])]
        # no rating or rank without evidence, even on the live Elo board (the Elo is shown
        # as such, as on a refreshed board)
        board["rows"] = [
            replace(
                row,
                elo=row.rating,
                provisional=row.votes < arena.rank_min_votes,
                rating=None if row.votes < arena.rank_min_votes else row.rating,
                rank=None if row.votes < arena.rank_min_votes else row.rank,
            ).as_dict()
            for row in live
        ]
        board.update({"changes": []})
        board.update(
            {
                "category": category,
                "excluded": {},
                "position_bias": {},
                "categories": leaderboard_categories(arena=arena),
                "matrices": {},
            }
        )
        return board
    labels = dict(InvalidReason.choices)
    return {
        "arena": arena.slug,
        "title": arena.title,
        "method": snapshot.method,
        "category": snapshot.category,
        "categories": leaderboard_categories(arena=arena),
        "votes": snapshot.votes,
        "computed_at": snapshot.computed_at.isoformat(),
        "rows": snapshot.rows,
        "matrices": snapshot.matrices,
        "excluded": {
            reason: {"count": n, "why": labels.get(reason, reason)}
            for reason, n in snapshot.excluded.items()
        },
        "position_bias": snapshot.position_bias,
        "params": snapshot.params,
        "changes": changes_latest(arena=arena, limit=settings.ARENA_CHANGELOG_SHOWN),
    }


def leaderboard_history(
    *, arena: Arena, category: str = "", limit: int = 200
) -> list[tuple[str, dict[str, float]]]:
    """(time, {model: rating}) of past snapshots, oldest first, for the rating-over-time plot.

    Rows are matched by contender id and labelled with the name in the newest snapshot that
    has the contender (the board's own label), so a model renamed in the admin keeps one line.
    """
    snapshots = [
        (at, board_rows(rows))
        for at, rows in LeaderboardSnapshot.objects.filter(arena=arena, category=category)
        .order_by("-computed_at")
        .values_list("computed_at", "rows")[:limit]
    ]
    newest: dict[int, str] = {}
    for _, rows in snapshots:  # newest first
        for row in rows:
            if row.contender_id is not None:
                newest.setdefault(row.contender_id, row.model)

    def label(row: BoardRow) -> str:
        return row.model if row.contender_id is None else newest[row.contender_id]

    return [
        (at.isoformat(), {label(r): r.rating for r in rows if r.rating is not None})
        for at, rows in reversed(snapshots)
    ]
