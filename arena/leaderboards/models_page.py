"""What the site says about one model of an arena: who made it, its rating over time and how
often it beat each opponent (read from the stored leaderboard snapshots, never from votes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from arena.battles.models import Arena, Contender
from arena.leaderboards.selectors import leaderboard_history, leaderboard_latest


@dataclass(frozen=True)
class Opponent:
    name: str
    battles: int
    win_fraction: float | None


@dataclass(frozen=True)
class ModelSummary:
    contender: Contender
    row: dict[str, object] | None  # its leaderboard row (rank, rating, interval, votes, ...)
    history: list[tuple[str, dict[str, float]]]  # (time, {name: rating}) of this model only
    opponents: list[Opponent]


def model_summary(*, arena: Arena, contender: Contender) -> ModelSummary:
    board = leaderboard_latest(arena=arena)
    name = contender.name
    rows = cast("list[dict[str, Any]]", board["rows"])
    row = next(
        (
            r
            for r in rows
            if r.get("contender_id") == contender.pk
            or (r.get("contender_id") is None and r.get("model") == name)
        ),
        None,
    )
    history = [
        (at, {name: ratings[name]})
        for at, ratings in leaderboard_history(arena=arena)
        if name in ratings
    ]
    matrices = cast("dict[str, Any]", board.get("matrices") or {})
    models = list(matrices.get("models") or [])
    opponents = []
    if name in models:
        i = models.index(name)
        counts = matrices.get("battle_counts") or []
        wins = matrices.get("win_fraction") or []
        for j, other in enumerate(models):
            battles = int(counts[i][j]) if counts else 0
            if j != i and battles:
                opponents.append(Opponent(other, battles, wins[i][j] if wins else None))
        opponents.sort(key=lambda o: -o.battles)
    return ModelSummary(contender, row, history, opponents)
