"""Recomputing leaderboards: debounced after votes, computed in a task, stored as snapshots.

Pages and the API only read snapshots; the maths runs in `ratings` (pure numpy/scipy).
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max

from arena.battles import events
from arena.battles.models import Arena, Contender
from arena.leaderboards.models import LeaderboardSnapshot
from arena.ops import metrics
from arena.votes.detector import voters_review
from arena.votes.models import Choice, EloRating, Vote
from arena.votes.services import elo_rebuild, elo_standings
from ratings import compute_leaderboard
from ratings.errors import NoBattlesError
from ratings.integrity import wilson_interval

logger = logging.getLogger(__name__)

# (left model, right model, choice, prompt category, sampling probability, battle id)
Row = tuple[str, str, str, str, float | None, object]

STYLE_COVARIATES = {
    "latency_diff_s": "generation time, left minus right (s)",
    "log_pixel_ratio": "log of output pixel counts, left over right",
    "aspect_error_diff": "distance from the requested aspect ratio, left minus right",
}


def style_covariates(votes: list[Row]) -> tuple[list[list[float]] | None, list[str]]:
    """Per-vote covariate differences (left minus right) for style control, dropping any that
    never vary (they carry no information and cannot be standardised)."""
    from arena.battles.models import Output

    facts: dict[object, dict[str, tuple[float, float, float, float]]] = defaultdict(dict)
    outputs = Output.objects.filter(battle_id__in=[v[5] for v in votes]).values_list(
        "battle_id", "side", "latency_s", "width", "height", "battle__arena__width",
        "battle__arena__height")
    for battle_id, side, latency, width, height, want_w, want_h in outputs.iterator():
        pixels = float((width or want_w) * (height or want_h))
        aspect_error = abs(math.log(((width or want_w) / (height or want_h)) / (want_w / want_h)))
        facts[battle_id][side] = (float(latency or 0.0), pixels, aspect_error, 0.0)
    rows = []
    for vote in votes:
        sides = facts.get(vote[5], {})
        left, right = sides.get("left"), sides.get("right")
        if left is None or right is None:
            rows.append([0.0, 0.0, 0.0])
            continue
        rows.append([max(-120.0, min(120.0, left[0] - right[0])),
                     math.log(left[1] / right[1]), left[2] - right[2]])
    names = list(STYLE_COVARIATES)
    keep = [k for k in range(len(names)) if len({round(r[k], 9) for r in rows}) > 1]
    if not keep:
        return None, []
    return [[r[k] for k in keep] for r in rows], [names[k] for k in keep]

WINNER_OF_CHOICE = {
    Choice.LEFT: "model_a",
    Choice.RIGHT: "model_b",
    Choice.TIE: "tie",
    Choice.BOTH_BAD: "tie (bothbad)",
}


def _due_key(arena_id: int) -> str:
    return f"lb-due:{arena_id}"


def _running_key(arena_id: int) -> str:
    return f"lb-running:{arena_id}"


def leaderboard_refresh_request(*, arena_id: int) -> None:
    """Ask for a recompute soon. A burst of votes schedules one recompute, not one per vote."""
    from arena.leaderboards.dispatch import refresh_schedule

    try:
        if not cache.add(_due_key(arena_id), 1, timeout=settings.ARENA_LEADERBOARD_DEBOUNCE_S * 30):
            return  # one is already scheduled and has not started yet
        refresh_schedule(arena_id=arena_id, countdown=settings.ARENA_LEADERBOARD_DEBOUNCE_S)
    except Exception as exc:  # Redis or the broker is down: the periodic refresh catches up
        logger.warning("could not schedule a leaderboard refresh for %s: %s", arena_id, exc)


def leaderboard_refresh(*, arena_id: int) -> bool:
    """Recompute every board of the arena unless another recompute is in flight.

    Returns False when it could not take the arena's lock (the caller retries later).
    """
    if not cache.add(_running_key(arena_id), 1, timeout=600):
        return False
    try:
        cache.delete(_due_key(arena_id))  # votes from now on schedule the next run
        arena = Arena.objects.get(pk=arena_id)
        leaderboard_compute(arena=arena)
    finally:
        cache.delete(_running_key(arena_id))
    return True


def _position_bias(votes: list[Row]) -> dict[str, object]:
    decisive = [v for v in votes if v[2] in (Choice.LEFT, Choice.RIGHT)]
    left = sum(1 for v in decisive if v[2] == Choice.LEFT)
    result = wilson_interval(left, len(decisive))
    return {"left_wins": left, "decisive_votes": len(decisive),
            "left_win_rate": result.estimate, "ci_low": result.ci_low,
            "ci_high": result.ci_high}


def _board(
    *, arena: Arena, contenders: list[Contender], votes: list[Row], category: str,
    elo: dict[str, float], style: bool = False,
) -> dict[str, object]:
    names = [c.name for c in contenders]
    by_name = {c.name: c for c in contenders}
    battles = [(a, b, WINNER_OF_CHOICE[Choice(choice)]) for a, b, choice, *_ in votes]
    covariates, covariate_names = (style_covariates(votes) if style and votes else (None, []))
    weights = None
    if settings.ARENA_IPW and votes and all(v[4] for v in votes):
        weights = [1.0 / v[4] for v in votes]  # type: ignore[operator]
    try:
        board = compute_leaderboard(
            battles,
            method="bt",
            bootstrap_rounds=settings.ARENA_BOOTSTRAP_ROUNDS,
            seed=0,
            both_bad="tie" if arena.both_bad_counts_as_tie else "exclude",
            models=names,
            weights=weights,
            covariates=covariates,
            covariate_names=covariate_names or None,
        )
    except NoBattlesError:
        board = None
    rows = []
    if board is not None:
        for row in board.rows:
            contender = by_name.get(row.model)
            rows.append({
                "rank": row.rank, "model": row.model,
                "organization": contender.organization if contender else "",
                "demo": contender.is_demo if contender else False,
                "rating": round(row.rating, 1), "ci_low": round(row.ci_low, 1),
                "ci_high": round(row.ci_high, 1),
                "elo": round(elo.get(row.model, row.elo), 1),
                "votes": row.votes, "wins": row.wins, "ties": row.ties, "losses": row.losses,
                "win_rate": round(row.win_rate, 4) if row.votes else None,
                **({"style_rating": round(row.style_rating, 1),
                    "style_ci_low": round(row.style_ci_low, 1),
                    "style_ci_high": round(row.style_ci_high, 1)}
                   if board.style is not None else {}),
            })
        matrices = {"models": list(board.models),
                    "battle_counts": board.battle_counts.tolist(),
                    "win_fraction": _clean(board.win_fraction.tolist()),
                    "predicted_win": _clean(board.predicted_win.tolist())}
        if board.style is not None:
            matrices["style"] = {
                "covariates": list(board.style.covariate_names),
                "coefficients": [round(float(c), 2) for c in board.style.coefficients],
                "coef_ci_low": _clean([board.style.coef_ci_low.tolist()])[0],
                "coef_ci_high": _clean([board.style.coef_ci_high.tolist()])[0],
            }
        params = {"bootstrap_rounds": board.bootstrap_rounds, "seed": board.seed,
                  "confidence": board.confidence, "center": board.center,
                  "regularized": board.regularized, "prior_strength": board.prior_strength,
                  "weighted": board.weighted, "both_bad": board.both_bad}
    else:
        for rank, contender in enumerate(sorted(contenders, key=lambda c: c.name), start=1):
            rows.append({"rank": rank, "model": contender.name,
                         "organization": contender.organization, "demo": contender.is_demo,
                         "rating": None, "ci_low": None, "ci_high": None,
                         "elo": round(elo.get(contender.name, 1000.0), 1), "votes": 0,
                         "wins": 0, "ties": 0, "losses": 0, "win_rate": None})
        matrices, params = {}, {"bootstrap_rounds": settings.ARENA_BOOTSTRAP_ROUNDS}
    return {"category": category, "rows": rows, "matrices": matrices, "params": params,
            "votes": len(votes), "position_bias": _position_bias(votes)}


def _clean(matrix: list[list[float]]) -> list[list[float | None]]:
    return [[None if value != value else round(value, 4) for value in row] for row in matrix]


@metrics.refresh_timed  # arena.ops hook: arena_leaderboard_refresh_seconds
def leaderboard_compute(*, arena: Arena) -> list[LeaderboardSnapshot]:
    """Review recent voters, then fit every board of the arena and store the snapshots."""
    started = time.perf_counter()
    last = LeaderboardSnapshot.objects.filter(arena=arena).aggregate(at=Max("computed_at"))["at"]
    voters_review(arena=arena, since=last)
    elo_rebuild(arena=arena)
    contenders = list(Contender.objects.filter(arenas=arena, enabled=True)
                      .select_related("provider"))
    valid = Vote.objects.filter(battle__arena=arena, is_valid=True).order_by("created_at")
    votes = list(valid.values_list("battle__left__name", "battle__right__name", "choice",
                                   "battle__prompt__category", "battle__sampling_probability",
                                   "battle_id"))
    excluded = dict(
        Vote.objects.filter(battle__arena=arena, is_valid=False)
        .values_list("invalid_reason").annotate(n=Count("id")).order_by()
    )
    elo = {name: rating for name, rating in EloRating.objects.filter(arena=arena)
           .values_list("contender__name", "rating")}
    by_category: dict[str, list[Row]] = defaultdict(list)
    for vote in votes:
        if vote[3]:
            by_category[vote[3]].append(vote)
    boards = [_board(arena=arena, contenders=contenders, votes=votes, category="", elo=elo,
                     style=settings.ARENA_STYLE_CONTROL)]
    for category in sorted(by_category):
        category_elo = _category_elo(by_category[category],
                                     both_bad_counts=arena.both_bad_counts_as_tie)
        boards.append(_board(arena=arena, contenders=contenders, votes=by_category[category],
                             category=category, elo=category_elo))
    seconds = time.perf_counter() - started
    with transaction.atomic():
        snapshots = [
            LeaderboardSnapshot.objects.create(
                arena=arena, category=board["category"], method="bt", votes=board["votes"],
                rows=board["rows"], matrices=board["matrices"], params=board["params"],
                excluded=excluded if board["category"] == "" else {},
                position_bias=board["position_bias"], seconds=seconds,
            )
            for board in boards
        ]
        snapshots_prune(arena=arena)
        slug = arena.slug
        transaction.on_commit(lambda: events.leaderboard_push(
            slug, {"arena": slug, "categories": [b["category"] for b in boards]}))
    return snapshots


def _category_elo(votes: list[Row], *, both_bad_counts: bool) -> dict[str, float]:
    standings = elo_standings(((left, right, choice) for left, right, choice, *_ in votes),
                              both_bad_counts=both_bad_counts)
    return {str(model): standing.rating for model, standing in standings.items()}


def snapshots_prune(*, arena: Arena) -> None:
    """Keep the newest snapshots per board and one per day before that (for the history)."""
    keep = settings.ARENA_SNAPSHOTS_KEEP
    for category in (LeaderboardSnapshot.objects.filter(arena=arena).order_by()
                     .values_list("category", flat=True).distinct()):
        old = list(LeaderboardSnapshot.objects.filter(arena=arena, category=category)
                   .order_by("-computed_at").values_list("pk", "computed_at")[keep:])
        seen_days: set[datetime] = set()
        doomed = []
        for pk, at in old:
            day = at.date()
            if day in seen_days:
                doomed.append(pk)
            else:
                seen_days.add(day)
        LeaderboardSnapshot.objects.filter(pk__in=doomed).delete()
