"""The per-vote leaderboard pipeline as it was before the refresh worked on aggregates (issue
10), kept as the oracle the new refresh must reproduce: one Python row per vote, covariates
computed per vote, online Elo replayed with `elo_update`, `compute_leaderboard` per board."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from arena.battles.models import Arena, Output
from arena.votes.models import Choice, Vote
from ratings import compute_leaderboard
from ratings.elo import elo_update
from ratings.errors import NoBattlesError

WINNER_OF_CHOICE = {
    Choice.LEFT: "model_a",
    Choice.RIGHT: "model_b",
    Choice.TIE: "tie",
    Choice.BOTH_BAD: "tie (bothbad)",
}
SCORE_LEFT = {Choice.LEFT: 1.0, Choice.RIGHT: 0.0, Choice.TIE: 0.5, Choice.BOTH_BAD: 0.5}
NAMES = ["latency_diff_s", "log_pixel_ratio", "aspect_error_diff"]


def style_covariates(votes: list[Any]) -> tuple[list[list[float]] | None, list[str]]:
    facts: dict[object, dict[str, tuple[float, float, float]]] = defaultdict(dict)
    outputs = Output.objects.filter(battle_id__in=[v[5] for v in votes]).values_list(
        "battle_id",
        "side",
        "latency_s",
        "width",
        "height",
        "battle__arena__width",
        "battle__arena__height",
    )
    for battle_id, side, latency, width, height, want_w, want_h in outputs.iterator():
        pixels = float((width or want_w) * (height or want_h))
        aspect_error = abs(math.log(((width or want_w) / (height or want_h)) / (want_w / want_h)))
        facts[battle_id][side] = (float(latency or 0.0), pixels, aspect_error)
    rows = []
    for vote in votes:
        sides = facts.get(vote[5], {})
        left, right = sides.get("left"), sides.get("right")
        if left is None or right is None:
            rows.append([0.0, 0.0, 0.0])
            continue
        rows.append(
            [
                max(-120.0, min(120.0, left[0] - right[0])),
                math.log(left[1] / right[1]),
                left[2] - right[2],
            ]
        )
    keep = [k for k in range(3) if len({round(r[k], 9) for r in rows}) > 1]
    if not keep:
        return None, []
    return [[r[k] for k in keep] for r in rows], [NAMES[k] for k in keep]


def elo_standings(votes: list[tuple[str, str, str]], *, both_bad_counts: bool) -> dict[str, float]:
    table: dict[str, float] = {}
    for left, right, choice in votes:
        if choice == Choice.BOTH_BAD and not both_bad_counts:
            continue
        a, b = table.setdefault(left, 1000.0), table.setdefault(right, 1000.0)
        table[left], table[right] = elo_update(a, b, SCORE_LEFT[Choice(choice)], k=4.0)
    return table


def boards(
    *, arena: Arena, names: list[str], rounds: int, style: bool
) -> dict[str, tuple[Any, dict[str, float], int]]:
    """{category: (Leaderboard or None, online Elo by model, counted votes)}, "" = all."""
    votes = list(
        Vote.objects.filter(battle__arena=arena, is_valid=True)
        .order_by("created_at", "pk")
        .values_list(
            "battle__left__name",
            "battle__right__name",
            "choice",
            "battle__prompt__category",
            "battle__sampling_probability",
            "battle_id",
        )
    )
    by_category: dict[str, list[Any]] = defaultdict(list)
    for vote in votes:
        if vote[3]:
            by_category[vote[3]].append(vote)
    result = {}
    both_bad = "tie" if arena.both_bad_counts_as_tie else "exclude"
    for category, rows in [("", votes), *sorted(by_category.items())]:
        covariates, covariate_names = (
            style_covariates(rows) if style and category == "" else (None, [])
        )
        try:
            board = compute_leaderboard(
                [(a, b, WINNER_OF_CHOICE[Choice(c)]) for a, b, c, *_ in rows],
                method="bt",
                bootstrap_rounds=rounds,
                seed=0,
                both_bad=both_bad,
                models=names,
                covariates=covariates,
                covariate_names=covariate_names or None,
            )
        except NoBattlesError:
            board = None
        elo = elo_standings(
            [(a, b, c) for a, b, c, *_ in rows], both_bad_counts=arena.both_bad_counts_as_tie
        )
        result[category] = (board, elo, len(rows))
    return result
