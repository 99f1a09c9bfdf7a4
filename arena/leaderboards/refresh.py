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
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max

from arena.battles import events
from arena.battles.models import Arena, Contender
from arena.leaderboards import maintained
from arena.leaderboards.boards import Board, board_dict, fit_board, fit_style
from arena.leaderboards.cells import Cells, arena_categories, cells_fetch
from arena.leaderboards.changelog import changelog_record
from arena.leaderboards.elo_state import elo_resume
from arena.leaderboards.honest import ranked_cells
from arena.leaderboards.models import LeaderboardSnapshot
from arena.ops import metrics
from arena.votes.detector import voters_review
from arena.votes.models import InvalidReason, Vote
from arena.votes.services import Standing, elo_store
from arena.votes.stream import VoteColumns, counted_vote_columns
from ratings.outcomes import BothBad
from ratings.replay import EloTable

logger = logging.getLogger(__name__)


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
        style = fit_style(style_cells, lookup, overall, both_bad=both_bad, seed=0)
    t = lap("style_fit", t)
    boards = []
    for g, category in [(-1, ""), *enumerate(categories)]:
        cells = counts if g < 0 else counts.select(counts.group == g)
        if g >= 0 and not cells.count.sum():
            continue  # a category without counted votes in this arena has no board
        boards.append(
            fit_board(
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
