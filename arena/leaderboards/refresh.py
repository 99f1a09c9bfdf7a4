"""One refresh of an arena's leaderboards from aggregates, never from one Python object per
vote.

1. The counted votes arrive once as numpy columns in vote order (packed binary blocks,
   :mod:`arena.votes.stream`): the voter review sums per-voter counters from them, and the
   online Elo of every board is replayed from them in one tight loop (:mod:`ratings.replay`),
   resumed from the last refresh's checkpoint when the votes before it are unchanged
   (:mod:`arena.leaderboards.elo_state`).
2. The vote cells (pair counts per category, and per binned style covariates) are kept by
   PostgreSQL as votes arrive (:mod:`arena.leaderboards.maintained`) and read from the same
   snapshot as the columns (:mod:`arena.leaderboards.cells`); the Bradley–Terry fits,
   bootstraps and the style-controlled fit run on those cells (:mod:`ratings.aggregate`), so
   they cost O(models² × outcomes × bins) whatever the number of votes.

The number of SQL statements does not depend on the number of votes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max

from arena.battles import events
from arena.battles.models import Arena, Contender
from arena.leaderboards import maintained
from arena.leaderboards.cells import STYLE_COVARIATES, Cells, arena_categories, cells_fetch
from arena.leaderboards.changelog import changelog_record
from arena.leaderboards.elo_state import elo_resume
from arena.leaderboards.honest import (
    RankedCells,
    finite,
    ipw_section,
    ranked_cells,
    recipe,
    sampler_state,
    style_section,
)
from arena.leaderboards.models import LeaderboardSnapshot
from arena.leaderboards.rows import BoardJSON, BoardRow, Interval
from arena.ops import metrics
from arena.votes.detector import voters_review
from arena.votes.models import InvalidReason, Vote
from arena.votes.services import Standing, elo_store
from arena.votes.stream import VoteColumns, counted_vote_columns
from ratings.aggregate import leaderboard_from_cells, style_from_cells
from ratings.errors import NoBattlesError
from ratings.integrity import wilson_interval
from ratings.leaderboard import Leaderboard
from ratings.outcomes import BothBad
from ratings.replay import EloTable
from ratings.style import StyleResult

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Board:
    category: str
    leaderboard: Leaderboard | None
    votes: int
    left_wins: int
    decisive: int
    elo: npt.NDArray[np.float64]
    ranked: RankedCells | None = None  # the split into ranked and provisional models
    min_votes: int = 0
    both_bad: BothBad = "tie"
    ipw: dict[str, object] | None = None  # the weighted fit's notice and counts (ARENA_IPW)
    ipw_rows: dict[str, Interval] = field(default_factory=dict)
    sampler: dict[str, object] | None = None  # what the adaptive sampler reads (overall board)


def _position_bias(left: int, decisive: int) -> dict[str, object]:
    result = wilson_interval(left, decisive)
    return {
        "left_wins": left,
        "decisive_votes": decisive,
        "left_win_rate": result.estimate,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
    }


def _clean(matrix: list[list[float]]) -> list[list[float | None]]:
    return [[None if value != value else round(value, 4) for value in row] for row in matrix]


def _elo(elo: dict[str, float], model: str) -> float:
    return round(elo.get(model, 1000.0), 2)


def board_dict(
    board: Board,
    *,
    names: Sequence[str],
    contenders: dict[str, Contender],
    contender_ids: dict[str, int],
) -> BoardJSON:
    """A board in the stored snapshot's shape: ranked rows (ratings and bounds to two
    decimals), then the provisional models (``rank`` None, no rating or interval); each row
    a :class:`BoardRow` keyed by ``contender_ids[name]``."""
    elo = dict(zip(names, board.elo.tolist(), strict=True))
    rows: list[BoardRow] = []
    lb = board.leaderboard
    style_shown = lb is not None and lb.style is not None and lb.style.identified
    if lb is not None:
        for row in lb.rows:
            contender = contenders.get(row.model)
            ipw = board.ipw_rows.get(row.model)
            rows.append(
                BoardRow(
                    rank=row.rank,
                    provisional=False,
                    contender_id=contender_ids.get(row.model),
                    model=row.model,
                    organization=contender.organization if contender else "",
                    demo=contender.is_demo if contender else False,
                    retired=contender is None,
                    rating=finite(row.rating),
                    ci_low=finite(row.ci_low),
                    ci_high=finite(row.ci_high),
                    elo=_elo(elo, row.model),
                    votes=row.votes,
                    wins=row.wins,
                    ties=row.ties,
                    losses=row.losses,
                    win_rate=round(row.win_rate, 4) if row.votes else None,
                    style=(
                        (
                            finite(row.style_rating),
                            finite(row.style_ci_low),
                            finite(row.style_ci_high),
                        )
                        if style_shown
                        else None
                    ),
                    ipw=ipw or None,
                )
            )
        matrices: BoardJSON = {
            "models": list(lb.models),
            "battle_counts": lb.battle_counts.tolist(),
            "win_fraction": _clean(lb.win_fraction.tolist()),
            "predicted_win": _clean(lb.predicted_win.tolist()),
        }
        if lb.style is not None:
            matrices["style"] = style_section(lb.style)
        params: BoardJSON = {
            "bootstrap_rounds": lb.bootstrap_rounds,
            "seed": lb.seed,
            "confidence": lb.confidence,
            "center": lb.center,
            "regularized": lb.regularized,
            "prior_strength": lb.prior_strength,
            "weighted": lb.weighted,
            "both_bad": lb.both_bad,
        }
    else:
        matrices, params = {}, {"bootstrap_rounds": settings.ARENA_BOOTSTRAP_ROUNDS}
    params.update(
        {
            "min_votes_to_rank": board.min_votes,
            "style_control": lb is not None and lb.style is not None,
            "ipw": board.ipw is not None,
            "recipe": recipe(
                bootstrap_rounds=int(params["bootstrap_rounds"]),
                min_votes=board.min_votes,
                both_bad=board.both_bad,
            ),
        }
    )
    if board.ipw is not None:
        matrices["ipw"] = board.ipw
    if board.sampler is not None:
        matrices["sampler"] = board.sampler
    for p in board.ranked.provisional if board.ranked is not None else []:
        contender = contenders.get(p.model)
        rows.append(
            BoardRow(
                rank=None,
                provisional=True,
                contender_id=contender_ids.get(p.model),
                model=p.model,
                organization=contender.organization if contender else "",
                demo=contender.is_demo if contender else False,
                retired=contender is None,
                rating=None,
                ci_low=None,
                ci_high=None,
                elo=_elo(elo, p.model),
                votes=p.votes,
                wins=p.wins,
                ties=p.ties,
                losses=p.losses,
                win_rate=None if p.win_rate is None else round(p.win_rate, 4),
            )
        )
    return {
        "category": board.category,
        "rows": [row.as_dict() for row in rows],
        "matrices": matrices,
        "params": params,
        "votes": board.votes,
        "position_bias": _position_bias(board.left_wins, board.decisive),
    }


def _style(
    cells: Cells, lookup: IntArray, ranked: RankedCells, *, both_bad: BothBad, seed: int
) -> StyleResult | None:
    """The style-controlled fit of the ranked models (the main fit's), with its
    identifiability notices; None without votes between ranked models."""
    assert cells.x is not None
    to_ranked = np.full(int(lookup.max(initial=0)) + 1, -1, dtype=np.int64)
    to_ranked[ranked.positions] = np.arange(ranked.positions.shape[0])
    a, b = to_ranked[lookup[cells.left]], to_ranked[lookup[cells.right]]
    both = (a >= 0) & (b >= 0)
    if not both.any():
        return None
    try:
        return style_from_cells(
            ranked.names,
            a[both],
            b[both],
            cells.outcome[both],
            cells.count[both],
            cells.x[both],
            names=list(STYLE_COVARIATES),
            both_bad=both_bad,
            bootstrap_rounds=settings.ARENA_STYLE_BOOTSTRAP_ROUNDS,
            seed=seed,
        )
    except NoBattlesError:
        return None


def compute_boards(
    *,
    arena: Arena,
    contenders: dict[str, Contender],
    phases: dict[str, float],
    since: datetime | None = None,
    review: bool = False,
) -> tuple[list[Board], list[str], dict[int, str]]:
    """Fit every board of the arena from aggregates; store the live Elo on the way.

    With ``review``, the voters active since ``since`` are reviewed first, from the same vote
    columns the online Elo reads, and the votes of those flagged leave every board.
    """

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - since, 3)
        return now

    ipw = settings.ARENA_IPW
    t = time.perf_counter()
    categories = arena_categories()
    columns, counts, style_cells = votes_and_cells(arena=arena, categories=categories, ipw=ipw)
    t = lap("votes_and_cells", t)
    if review:
        flagged = voters_review(arena=arena, since=since, columns=columns)
        if flagged and connection.vendor == "postgresql":
            gone = np.isin(columns.voter, [int(h) for h in _hashes_of(flagged)])
            columns = columns.select(~gone)
        elif flagged:
            columns = counted_vote_columns(arena=arena, categories=categories)
        if flagged:  # their votes left the cells with them (one read of O(cells) rows)
            counts, style_cells = cells_fetch(
                arena=arena, categories=categories, style=arena.style_control_on, ipw=ipw
            )
        t = lap("voter_review", t)
    ids = (
        set(counts.left.tolist())
        | set(counts.right.tolist())
        | set(np.unique(columns.left).tolist())
        | set(np.unique(columns.right).tolist())
    )
    id_names = dict(Contender.objects.filter(pk__in=ids).values_list("pk", "name"))
    id_names.update({c.pk: c.name for c in contenders.values()})
    names = sorted(set(id_names.values()))
    position = {name: k for k, name in enumerate(names)}
    lookup = np.full(max(id_names, default=0) + 1, -1, dtype=np.int64)
    for pk, name in id_names.items():
        lookup[pk] = position[name]
    name_ids = {name: pk for pk, name in id_names.items()}  # names are unique
    column_ids = [name_ids[name] for name in names]  # the contender of each model column
    table = elo_resume(
        arena=arena,
        columns=columns,
        model_a=lookup[columns.left],
        model_b=lookup[columns.right],
        names=names,
        contender_ids=column_ids,
        categories=categories,
        phases=phases,
    )
    del columns
    elo_store(arena=arena, standings=_overall_by_contender(table, id_names, position))
    t = lap("elo_replay", t)
    both_bad: BothBad = "tie" if arena.both_bad_counts_as_tie else "exclude"
    min_votes = arena.rank_min_votes
    overall = ranked_cells(
        names,
        lookup[counts.left],
        lookup[counts.right],
        counts.outcome,
        counts.count,
        min_votes=min_votes,
        both_bad=both_bad,
    )
    style = None
    if style_cells is not None:
        style = _style(style_cells, lookup, overall, both_bad=both_bad, seed=0)
    t = lap("style_fit", t)
    boards = []
    for g, category in [(-1, ""), *enumerate(categories)]:
        cells = counts if g < 0 else counts.select(counts.group == g)
        if g >= 0 and not cells.count.sum():
            continue  # a category without counted votes in this arena has no board
        boards.append(
            _fit_board(
                cells,
                lookup,
                names,
                category=category,
                both_bad=both_bad,
                elo=table.ratings[g + 1],
                style=style if g < 0 else None,
                min_votes=min_votes,
                ipw=ipw and g < 0,
                ranked=overall if g < 0 else None,
                contender_ids=column_ids,
            )
        )
    lap("bt_fits", t)
    return boards, names, id_names


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """One repeatable-read transaction on PostgreSQL, so the vote columns and the cells read
    in it see the same votes (nothing to do inside an outer transaction or elsewhere)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def votes_and_cells(
    *, arena: Arena, categories: Sequence[str], ipw: bool
) -> tuple[VoteColumns, Cells, Cells | None]:
    """The counted votes as columns (for the order-dependent online Elo and the voter review)
    and the vote cells (for every fit), from one snapshot.

    On PostgreSQL the cells are the ones the database maintains: they are recounted first
    when the style bins of the settings changed, and again when their totals disagree with
    the votes of the same snapshot (which the triggers rule out; the check costs nothing).
    """
    style = arena.style_control_on
    kept = maintained.maintained()
    if kept and not maintained.bins_current():
        maintained.cells_rebuild()
    with _one_snapshot():
        columns = counted_vote_columns(arena=arena, categories=categories)
        counts, style_cells = cells_fetch(arena=arena, categories=categories, style=style, ipw=ipw)
    votes = int(columns.left.shape[0])
    if kept and (
        int(counts.count.sum()) != votes
        or (style_cells is not None and int(style_cells.count.sum()) != votes)
    ):
        logger.warning(
            "vote cells of %s disagree with its %d counted votes: recounting", arena.slug, votes
        )
        maintained.cells_rebuild([arena.pk])
        with _one_snapshot():
            columns = counted_vote_columns(arena=arena, categories=categories)
            counts, style_cells = cells_fetch(
                arena=arena, categories=categories, style=style, ipw=ipw
            )
    return columns, counts, style_cells


def _hashes_of(voter_ids: list[str]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT hashtextextended(v, 0) FROM unnest(%s::text[]) AS v", [voter_ids])
        return [row[0] for row in cursor.fetchall()]


def _overall_by_contender(
    table: EloTable, id_names: dict[int, str], position: dict[str, int]
) -> dict[int, Standing]:
    """Overall Elo standings keyed by contender id (what the live board stores)."""
    return {
        pk: Standing(
            float(table.ratings[0, k]),
            int(table.votes[0, k]),
            int(table.wins[0, k]),
            int(table.losses[0, k]),
            int(table.ties[0, k]),
        )
        for pk, name in id_names.items()
        for k in [position[name]]
    }


def _fit_board(
    cells: Cells,
    lookup: IntArray,
    names: Sequence[str],
    *,
    category: str,
    both_bad: BothBad,
    elo: npt.NDArray[np.float64],
    style: StyleResult | None,
    min_votes: int,
    ipw: bool,
    ranked: RankedCells | None = None,
    contender_ids: Sequence[int] = (),
) -> Board:
    """One board: the provisional models split off, the ranked ones fitted (the same fit as
    ``python -m ratings --min-votes``), and with ``ipw`` the weighted fit beside it."""
    votes = int(cells.count.sum())
    left_wins = int(cells.count[cells.outcome == 0].sum())
    decisive = left_wins + int(cells.count[cells.outcome == 1].sum())
    if ranked is None:
        ranked = ranked_cells(
            names,
            lookup[cells.left],
            lookup[cells.right],
            cells.outcome,
            cells.count,
            min_votes=min_votes,
            both_bad=both_bad,
        )
    lb = None
    if ranked.names:
        try:
            lb = leaderboard_from_cells(
                ranked.names,
                ranked.left,
                ranked.right,
                ranked.outcome,
                ranked.count,
                bootstrap_rounds=settings.ARENA_BOOTSTRAP_ROUNDS,
                seed=0,
                both_bad=both_bad,
                elo=elo[ranked.positions],
                style=style,
            )
        except NoBattlesError:
            lb = None
    ipw_info: dict[str, object] | None = None
    ipw_rows: dict[str, Interval] = {}
    if ipw and lb is not None:
        ipw_info, ipw_rows = ipw_section(
            ranked,
            cells.probability,
            both_bad=both_bad,
            bootstrap_rounds=settings.ARENA_BOOTSTRAP_ROUNDS,
        )
    sampler = None
    if not category:
        sampler = sampler_state(
            names,
            lookup[cells.left],
            lookup[cells.right],
            cells.outcome,
            cells.count,
            {} if lb is None else {r.model: r.rating for r in lb.rows},
            contender_ids,
        )
    return Board(
        category=category,
        leaderboard=lb,
        votes=votes,
        left_wins=left_wins,
        decisive=decisive,
        elo=elo,
        ranked=ranked,
        min_votes=min_votes,
        both_bad=both_bad,
        ipw=ipw_info,
        ipw_rows=ipw_rows,
        sampler=sampler,
    )


@metrics.refresh_timed  # arena_leaderboard_refresh_seconds
def leaderboard_compute(*, arena: Arena) -> list[LeaderboardSnapshot]:
    """Review recent voters, then fit every board of the arena and store the snapshots."""
    from arena.leaderboards.services import snapshots_prune

    started = time.perf_counter()
    phases: dict[str, float] = {}
    last = LeaderboardSnapshot.objects.filter(arena=arena).aggregate(at=Max("computed_at"))["at"]
    previous = (
        LeaderboardSnapshot.objects.filter(arena=arena, category="")
        .order_by("-computed_at")
        .only("rows", "params", "excluded")
        .first()
    )
    contenders = {
        c.name: c
        for c in Contender.objects.filter(arenas=arena, enabled=True).select_related("provider")
    }
    boards, names, id_names = compute_boards(
        arena=arena, contenders=contenders, phases=phases, since=last, review=True
    )
    excluded = dict(
        Vote.objects.filter(battle__arena=arena, is_valid=False)
        .exclude(invalid_reason=InvalidReason.SIDE_BY_SIDE)  # never meant to count
        .values_list("invalid_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    contender_ids = {name: pk for pk, name in id_names.items()}
    dicts = [
        board_dict(b, names=names, contenders=contenders, contender_ids=contender_ids)
        for b in boards
    ]
    seconds = time.perf_counter() - started
    phases["total_before_write"] = round(seconds, 3)
    dicts[0]["params"]["phases"] = phases
    with transaction.atomic():
        snapshots = LeaderboardSnapshot.objects.bulk_create(
            [
                LeaderboardSnapshot(
                    arena=arena,
                    category=board["category"],
                    method="bt",
                    votes=board["votes"],
                    rows=board["rows"],
                    matrices=board["matrices"],
                    params=board["params"],
                    excluded=excluded if board["category"] == "" else {},
                    position_bias=board["position_bias"],
                    seconds=seconds,
                )
                for board in dicts
            ]
        )
        snapshots_prune(arena=arena)
        changelog_record(arena=arena, previous=previous, board=dicts[0], excluded=excluded)
        slug = arena.slug
        categories = [str(b["category"]) for b in dicts]
        transaction.on_commit(
            lambda: events.leaderboard_push(slug, {"arena": slug, "categories": categories})
        )
    logger.info("refreshed %s in %.2f s: %s", arena.slug, time.perf_counter() - started, phases)
    return snapshots
