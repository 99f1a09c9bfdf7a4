"""One refresh of an arena's leaderboards from aggregates, never from one Python object per
vote.

The database groups the counted votes into cells (left model, right model, outcome, and
prompt category or binned style covariates) with ``GROUP BY``; the fits run on those cells
(:mod:`ratings.aggregate`), so they cost O(models² × outcomes × bins) whatever the number of
votes. Only the online Elo needs the votes in order: their model indices arrive as numpy
columns (``COPY … BINARY``) and are replayed in one tight loop for all boards at once
(:mod:`ratings.replay`). The number of SQL statements does not depend on the number of votes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FilteredRelation,
    FloatField,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Abs, Cast, Coalesce, Greatest, Least, Ln, NullIf, Round

from arena.battles import events
from arena.battles.models import Arena, Battle, Contender
from arena.leaderboards.models import LeaderboardSnapshot
from arena.votes.detector import voters_review
from arena.votes.models import Choice, Vote
from arena.votes.services import elo_store
from arena.votes.stream import OUTCOME_OF_CHOICE, counted_vote_columns, outcome_code
from ratings import battles_from_arrays, compute_leaderboard
from ratings.aggregate import leaderboard_from_cells, style_from_cells
from ratings.errors import NoBattlesError
from ratings.integrity import wilson_interval
from ratings.leaderboard import Leaderboard
from ratings.replay import EloTable, elo_replay
from ratings.style import StyleResult

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

STYLE_COVARIATES = {
    "latency_diff_s": "generation time, left minus right (s)",
    "log_pixel_ratio": "log of output pixel counts, left over right",
    "aspect_error_diff": "distance from the requested aspect ratio, left minus right",
}

_outcome_code = outcome_code


@dataclass
class Cells:
    """Vote cells: contender ids of each side, outcome code, count; ``group`` is a category
    index (-1: none) for the count cells; ``x`` the style covariates of the style cells."""

    left: IntArray
    right: IntArray
    outcome: IntArray
    count: IntArray
    group: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    x: npt.NDArray[np.float64] | None = None
    probability: npt.NDArray[np.float64] | None = None  # sampling probability (nan: unknown)

    def select(self, mask: npt.NDArray[np.bool_]) -> Cells:
        return Cells(self.left[mask], self.right[mask], self.outcome[mask], self.count[mask],
                     self.group[mask] if self.group.size else self.group,
                     None if self.x is None else self.x[mask],
                     None if self.probability is None else self.probability[mask])

    def weighted(self) -> bool:
        """Inverse-probability weights apply only when every vote has its probability (as
        before: otherwise the board is unweighted)."""
        p = self.probability
        return p is not None and bool(self.count.size) and bool(np.all(p > 0))


def _counted_battles(arena: Arena) -> QuerySet[Battle]:
    return Battle.objects.filter(arena=arena, vote__is_valid=True).order_by()


def cells_by_category(*, arena: Arena, ipw: bool = False,
                      categories: Sequence[str] | None = None) -> tuple[Cells, list[str]]:
    """Counted votes per (category, left, right, outcome), and per sampling probability when
    votes are weighted by it: one ``GROUP BY``."""
    fields = ["prompt__category", "left_id", "right_id", "vote__choice"]
    if ipw:
        fields.append("sampling_probability")
    rows = [r if ipw else (*r[:4], None, r[4]) for r in
            _counted_battles(arena).values_list(*fields).annotate(n=Count("pk"))]
    if categories is None:
        categories = sorted({str(row[0]) for row in rows if row[0]})
    categories = list(categories)
    index = {c: k for k, c in enumerate(categories)}
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Cells(empty, empty, empty, empty, empty), categories
    return Cells(
        left=np.fromiter((r[1] for r in rows), np.int64, len(rows)),
        right=np.fromiter((r[2] for r in rows), np.int64, len(rows)),
        outcome=np.fromiter((OUTCOME_OF_CHOICE[Choice(r[3])] for r in rows), np.int64,
                            len(rows)),
        count=np.fromiter((r[5] for r in rows), np.int64, len(rows)),
        group=np.fromiter((index.get(r[0], -1) for r in rows), np.int64, len(rows)),
        probability=np.fromiter((np.nan if r[4] is None else r[4] for r in rows), np.float64,
                                len(rows)) if ipw else None,
    ), categories


def _style_queryset(arena: Arena) -> QuerySet[Battle]:
    """Per counted battle: the covariate differences (left minus right) and their bins.

    Same definitions as the per-vote code had: generation time difference clipped to ±120 s,
    log pixel ratio and aspect-ratio error difference (sizes default to the arena's), all
    zero when a side has no output.
    """
    want_w, want_h = float(arena.width), float(arena.height)
    float_field = FloatField()

    def side(prefix: str) -> tuple[object, object]:
        width = Cast(Coalesce(NullIf(F(f"{prefix}__width"), 0), Value(arena.width)), float_field)
        height = Cast(Coalesce(NullIf(F(f"{prefix}__height"), 0), Value(arena.height)),
                      float_field)
        return width, height

    wl, hl = side("out_l")
    wr, hr = side("out_r")
    missing = Q(out_l__id__isnull=True) | Q(out_r__id__isnull=True)
    lat = Greatest(Value(-120.0), Least(Value(120.0), Coalesce(F("out_l__latency_s"), 0.0)
                                         - Coalesce(F("out_r__latency_s"), 0.0)))
    aspect = Value(want_w / want_h, output_field=float_field)
    qs = _counted_battles(arena).annotate(
        out_l=FilteredRelation("outputs", condition=Q(outputs__side="left")),
        out_r=FilteredRelation("outputs", condition=Q(outputs__side="right")),
    ).annotate(
        x_lat=Case(When(missing, then=Value(0.0)), default=lat, output_field=float_field),
        x_pix=Case(When(missing, then=Value(0.0)), default=Ln((wl * hl) / (wr * hr)),
                   output_field=float_field),
        x_asp=Case(When(missing, then=Value(0.0)),
                   default=Abs(Ln((wl / hl) / aspect)) - Abs(Ln((wr / hr) / aspect)),
                   output_field=float_field),
    )
    edges = sorted(settings.ARENA_STYLE_LATENCY_EDGES_S)
    step = settings.ARENA_STYLE_SIZE_STEP
    return qs.annotate(
        b_lat=Case(*(When(x_lat__lt=edge, then=Value(k)) for k, edge in enumerate(edges)),
                   default=Value(len(edges)), output_field=IntegerField()),
        b_pix=Cast(Round(F("x_pix") / step), IntegerField()),
        b_asp=Cast(Round(F("x_asp") / step), IntegerField()),
        outcome=_outcome_code("vote__choice"),
    )


def cells_by_style(*, arena: Arena, ipw: bool = False) -> Cells:
    """Counted votes per (left, right, outcome, covariate bins), with each cell's covariate
    values: the common value when all its votes share it (then the fit is exactly the
    per-vote fit), else their mean."""
    qs = _style_queryset(arena).annotate(
        p=Coalesce(F("sampling_probability"), Value(-1.0)) if ipw else Value(-1.0))
    rows = list(qs.values_list(
        "left_id", "right_id", "outcome", "b_lat", "b_pix", "b_asp", "p").annotate(
        n=Count("pk"),
        lat_min=Min("x_lat"), lat_max=Max("x_lat"), lat_avg=Avg("x_lat"),
        pix_min=Min("x_pix"), pix_max=Max("x_pix"), pix_avg=Avg("x_pix"),
        asp_min=Min("x_asp"), asp_max=Max("x_asp"), asp_avg=Avg("x_asp")))
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Cells(empty, empty, empty, empty, x=np.zeros((0, 3)))
    table = np.asarray([r[:3] + r[7:] for r in rows], dtype=np.float64)
    x = np.empty((table.shape[0], 3))
    for k in range(3):
        low, high, mean = table[:, 4 + 3 * k], table[:, 5 + 3 * k], table[:, 6 + 3 * k]
        x[:, k] = np.where(low == high, low, mean)
    p = np.asarray([r[6] for r in rows], dtype=np.float64)
    return Cells(left=table[:, 0].astype(np.int64), right=table[:, 1].astype(np.int64),
                 outcome=table[:, 2].astype(np.int64), count=table[:, 3].astype(np.int64), x=x,
                 probability=np.where(p > 0, p, np.nan) if ipw else None)


_CELLS_SQL = """
SELECT GROUPING(category), category, left_id, right_id, choice, p, bl, bp, ba, count(*),
       min(x_lat), max(x_lat), avg(x_lat), min(x_pix), max(x_pix), avg(x_pix),
       min(x_asp), max(x_asp), avg(x_asp)
FROM (
    SELECT b.left_id, b.right_id, pr.category, v.choice,
           {probability} AS p, s.x_lat, s.x_pix, s.x_asp,
           width_bucket(s.x_lat, %(edges)s::float8[]) AS bl,
           floor(s.x_pix / %(step)s + 0.5)::int AS bp, floor(s.x_asp / %(step)s + 0.5)::int AS ba
    FROM {vote} v
    JOIN {battle} b ON b.id = v.battle_id
    JOIN {prompt} pr ON pr.id = b.prompt_id
    LEFT JOIN {output} ol ON ol.battle_id = b.id AND ol.side = 'left'
    LEFT JOIN {output} orr ON orr.battle_id = b.id AND orr.side = 'right'
    CROSS JOIN LATERAL (SELECT
        coalesce(nullif(ol.width, 0), %(w)s)::float8 AS wl,
        coalesce(nullif(ol.height, 0), %(h)s)::float8 AS hl,
        coalesce(nullif(orr.width, 0), %(w)s)::float8 AS wr,
        coalesce(nullif(orr.height, 0), %(h)s)::float8 AS hr,
        ol.id IS NULL OR orr.id IS NULL AS missing) o
    CROSS JOIN LATERAL (SELECT
        CASE WHEN o.missing THEN 0.0::float8 ELSE greatest(-120.0::float8, least(120.0::float8,
            coalesce(ol.latency_s, 0.0) - coalesce(orr.latency_s, 0.0))) END AS x_lat,
        CASE WHEN o.missing THEN 0.0::float8 ELSE ln((o.wl * o.hl) / (o.wr * o.hr)) END AS x_pix,
        CASE WHEN o.missing THEN 0.0::float8
             ELSE abs(ln((o.wl / o.hl) / %(aspect)s::float8))
                  - abs(ln((o.wr / o.hr) / %(aspect)s::float8)) END AS x_asp) s
    WHERE b.arena_id = %(arena)s AND v.is_valid
) t
GROUP BY GROUPING SETS ((category, left_id, right_id, choice, p),
                        (left_id, right_id, choice, p, bl, bp, ba))
"""


def cells_fetch(*, arena: Arena, categories: Sequence[str], style: bool,
                ipw: bool) -> tuple[Cells, Cells | None]:
    """Counted votes per (category, left, right, outcome) and, for style control, per (left,
    right, outcome, covariate bins): on PostgreSQL one scan with two grouping sets, elsewhere
    two ORM ``GROUP BY`` queries. With ``ipw``, per sampling probability too."""
    if connection.vendor != "postgresql":
        counts, _ = cells_by_category(arena=arena, ipw=ipw, categories=categories)
        return counts, (cells_by_style(arena=arena, ipw=ipw) if style else None)
    from arena.battles.models import Output, Prompt

    sql = _CELLS_SQL.format(
        vote=Vote._meta.db_table, battle=Battle._meta.db_table, prompt=Prompt._meta.db_table,
        output=Output._meta.db_table,
        probability="coalesce(b.sampling_probability, -1.0)" if ipw else "-1.0::float8")
    params = {"arena": arena.pk, "w": arena.width, "h": arena.height,
              "aspect": arena.width / arena.height, "step": settings.ARENA_STYLE_SIZE_STEP,
              "edges": sorted(settings.ARENA_STYLE_LATENCY_EDGES_S)}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")  # hash the cells in memory
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    index = {c: k for k, c in enumerate(categories)}
    code = {str(c): k for c, k in OUTCOME_OF_CHOICE.items()}
    by_style = [r for r in rows if r[0] == 1]
    by_category = [r for r in rows if r[0] == 0]

    def cells(rows: list[tuple[object, ...]], *, grouped: bool) -> Cells:
        k = len(rows)
        p = np.fromiter((r[5] for r in rows), np.float64, k)
        x = None
        if not grouped:
            stats = np.asarray([r[10:19] for r in rows], dtype=np.float64).reshape(k, 9)
            low, high, mean = stats[:, 0::3], stats[:, 1::3], stats[:, 2::3]
            x = np.where(low == high, low, mean)
        return Cells(
            left=np.fromiter((r[2] for r in rows), np.int64, k),
            right=np.fromiter((r[3] for r in rows), np.int64, k),
            outcome=np.fromiter((code[r[4]] for r in rows), np.int64, k),
            count=np.fromiter((r[9] for r in rows), np.int64, k),
            group=(np.fromiter((index.get(r[1], -1) for r in rows), np.int64, k)
                   if grouped else np.zeros(0, dtype=np.int64)),
            x=x, probability=np.where(p > 0, p, np.nan) if ipw else None)

    return cells(by_category, grouped=True), (cells(by_style, grouped=False) if style else None)


def arena_categories() -> list[str]:
    """Every prompt category in use (an index scan of the prompts, not of the votes); the
    boards are kept for those with counted votes in the arena."""
    from arena.battles.models import Prompt

    return sorted(c for c in Prompt.objects.order_by().values_list("category", flat=True)
                  .distinct() if c)


@dataclass(frozen=True)
class Board:
    category: str
    leaderboard: Leaderboard | None
    votes: int
    left_wins: int
    decisive: int
    elo: npt.NDArray[np.float64]


def _position_bias(left: int, decisive: int) -> dict[str, object]:
    result = wilson_interval(left, decisive)
    return {"left_wins": left, "decisive_votes": decisive, "left_win_rate": result.estimate,
            "ci_low": result.ci_low, "ci_high": result.ci_high}


def _clean(matrix: list[list[float]]) -> list[list[float | None]]:
    return [[None if value != value else round(value, 4) for value in row] for row in matrix]


def board_dict(board: Board, *, names: Sequence[str],
               contenders: dict[str, Contender]) -> dict[str, object]:
    """A board in the stored snapshot's shape (the same fields as before this change)."""
    elo = dict(zip(names, board.elo.tolist(), strict=True))
    rows: list[dict[str, object]] = []
    lb = board.leaderboard
    if lb is not None:
        for row in lb.rows:
            contender = contenders.get(row.model)
            rows.append({
                "rank": row.rank, "model": row.model,
                "organization": contender.organization if contender else "",
                "demo": contender.is_demo if contender else False,
                "rating": round(row.rating, 1), "ci_low": round(row.ci_low, 1),
                "ci_high": round(row.ci_high, 1),
                "elo": round(elo.get(row.model, 1000.0), 1),
                "votes": row.votes, "wins": row.wins, "ties": row.ties, "losses": row.losses,
                "win_rate": round(row.win_rate, 4) if row.votes else None,
                **({"style_rating": round(row.style_rating, 1),
                    "style_ci_low": round(row.style_ci_low, 1),
                    "style_ci_high": round(row.style_ci_high, 1)}
                   if lb.style is not None else {}),
            })
        matrices: dict[str, object] = {
            "models": list(lb.models), "battle_counts": lb.battle_counts.tolist(),
            "win_fraction": _clean(lb.win_fraction.tolist()),
            "predicted_win": _clean(lb.predicted_win.tolist())}
        if lb.style is not None:
            matrices["style"] = {
                "covariates": list(lb.style.covariate_names),
                "coefficients": [round(float(c), 2) for c in lb.style.coefficients],
                "coef_ci_low": _clean([lb.style.coef_ci_low.tolist()])[0],
                "coef_ci_high": _clean([lb.style.coef_ci_high.tolist()])[0],
                "bootstrap_rounds": lb.style.bootstrap_rounds,
            }
        params: dict[str, object] = {
            "bootstrap_rounds": lb.bootstrap_rounds, "seed": lb.seed,
            "confidence": lb.confidence, "center": lb.center, "regularized": lb.regularized,
            "prior_strength": lb.prior_strength, "weighted": lb.weighted,
            "both_bad": lb.both_bad}
    else:
        for rank, contender in enumerate(sorted(contenders.values(), key=lambda c: c.name),
                                         start=1):
            rows.append({"rank": rank, "model": contender.name,
                         "organization": contender.organization, "demo": contender.is_demo,
                         "rating": None, "ci_low": None, "ci_high": None,
                         "elo": round(elo.get(contender.name, 1000.0), 1), "votes": 0,
                         "wins": 0, "ties": 0, "losses": 0, "win_rate": None})
        matrices, params = {}, {"bootstrap_rounds": settings.ARENA_BOOTSTRAP_ROUNDS}
    return {"category": board.category, "rows": rows, "matrices": matrices, "params": params,
            "votes": board.votes, "position_bias": _position_bias(board.left_wins,
                                                                  board.decisive)}


def _varying(x: npt.NDArray[np.float64]) -> list[int]:
    """Covariates that take more than one value (the others carry no information)."""
    return [k for k in range(x.shape[1]) if np.unique(np.round(x[:, k], 9)).size > 1]


def _style(cells: Cells, lookup: IntArray, names: Sequence[str], *, both_bad: str,
           seed: int) -> StyleResult | None:
    """The style-controlled fit, or None when no covariate varies (as before)."""
    assert cells.x is not None
    varies = _varying(cells.x) if cells.count.size else []
    if not varies:
        return None
    try:
        return style_from_cells(
            names, lookup[cells.left], lookup[cells.right], cells.outcome, cells.count,
            cells.x[:, varies], names=[list(STYLE_COVARIATES)[k] for k in varies],
            both_bad=both_bad,  # type: ignore[arg-type]
            bootstrap_rounds=settings.ARENA_STYLE_BOOTSTRAP_ROUNDS, seed=seed)
    except NoBattlesError:
        return None


def _weighted_leaderboard(cells: Cells, lookup: IntArray, names: Sequence[str], *,
                          both_bad: str, style: bool) -> Leaderboard:
    """Inverse-probability weighting (``ARENA_IPW``): each vote carries its own weight, so the
    cells are expanded back to one numpy row per vote (no Python object per vote) and fitted
    by :func:`ratings.compute_leaderboard`."""
    assert cells.probability is not None
    n = cells.count
    battles = battles_from_arrays(
        names, np.repeat(lookup[cells.left], n), np.repeat(lookup[cells.right], n),
        np.repeat(cells.outcome, n), weights=np.repeat(1.0 / cells.probability, n))
    covariates, covariate_names = None, None
    if style and cells.x is not None:
        varies = _varying(cells.x)
        if varies:
            covariates = np.repeat(cells.x[:, varies], n, axis=0)
            covariate_names = [list(STYLE_COVARIATES)[k] for k in varies]
    return compute_leaderboard(
        battles, method="bt", bootstrap_rounds=settings.ARENA_BOOTSTRAP_ROUNDS, seed=0,
        both_bad=both_bad,  # type: ignore[arg-type]
        online_elo=False, covariates=covariates, covariate_names=covariate_names)


def compute_boards(*, arena: Arena, contenders: dict[str, Contender], phases: dict[str, float],
                   since: datetime | None = None,
                   review: bool = False) -> tuple[list[Board], list[str], dict[int, str]]:
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
    columns = counted_vote_columns(arena=arena, categories=categories)
    t = lap("vote_columns", t)
    if review:
        flagged = voters_review(arena=arena, since=since, columns=columns)
        if flagged and connection.vendor == "postgresql":
            gone = np.isin(columns.voter, [int(h) for h in _hashes_of(flagged)])
            columns = columns.select(~gone)
        elif flagged:
            columns = counted_vote_columns(arena=arena, categories=categories)
        t = lap("voter_review", t)
    counts, style_cells = cells_fetch(arena=arena, categories=categories,
                                      style=settings.ARENA_STYLE_CONTROL, ipw=ipw)
    t = lap("cells_sql", t)
    ids = (set(counts.left.tolist()) | set(counts.right.tolist())
           | set(np.unique(columns.left).tolist()) | set(np.unique(columns.right).tolist()))
    id_names = dict(Contender.objects.filter(pk__in=ids).values_list("pk", "name"))
    id_names.update({c.pk: c.name for c in contenders.values()})
    names = sorted(set(id_names.values()))
    position = {name: k for k, name in enumerate(names)}
    lookup = np.full(max(id_names, default=0) + 1, -1, dtype=np.int64)
    for pk, name in id_names.items():
        lookup[pk] = position[name]
    table = elo_replay(lookup[columns.left], lookup[columns.right], columns.outcome,
                       num_models=len(names), group=columns.group, num_groups=len(categories),
                       both_bad_counts=arena.both_bad_counts_as_tie)
    del columns
    elo_store(arena=arena, standings=_overall_by_contender(table, id_names, position))
    t = lap("elo_replay", t)
    both_bad = "tie" if arena.both_bad_counts_as_tie else "exclude"
    overall_weighted = counts.weighted()
    style = None
    if style_cells is not None and not overall_weighted:
        style = _style(style_cells, lookup, names, both_bad=both_bad, seed=0)
    t = lap("style_fit", t)
    boards = []
    for g, category in [(-1, ""), *enumerate(categories)]:
        cells = counts if g < 0 else counts.select(counts.group == g)
        if g >= 0 and not cells.count.sum():
            continue  # a category without counted votes in this arena has no board
        if g < 0 and overall_weighted and style_cells is not None:
            cells = style_cells  # the same votes, with their covariates
        boards.append(_fit_board(
            cells, lookup, names, category=category, both_bad=both_bad,
            elo=table.ratings[g + 1], style=style if g < 0 else None,
            style_weighted=g < 0 and style_cells is not None))
    lap("bt_fits", t)
    return boards, names, id_names


def _hashes_of(voter_ids: list[str]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT hashtextextended(v, 0) FROM unnest(%s::text[]) AS v",
                       [voter_ids])
        return [row[0] for row in cursor.fetchall()]


def _overall_by_contender(table: EloTable, id_names: dict[int, str],
                          position: dict[str, int]) -> dict[int, tuple[float, int, int, int, int]]:
    """Overall Elo standings keyed by contender id (what the live board stores)."""
    return {pk: (float(table.ratings[0, k]), int(table.votes[0, k]), int(table.wins[0, k]),
                 int(table.losses[0, k]), int(table.ties[0, k]))
            for pk, name in id_names.items() for k in [position[name]]}


def _fit_board(cells: Cells, lookup: IntArray, names: Sequence[str], *, category: str,
               both_bad: str, elo: npt.NDArray[np.float64], style: StyleResult | None,
               style_weighted: bool) -> Board:
    votes = int(cells.count.sum())
    left_wins = int(cells.count[cells.outcome == 0].sum())
    decisive = left_wins + int(cells.count[cells.outcome == 1].sum())
    try:
        if cells.weighted():
            lb = _weighted_leaderboard(cells, lookup, names, both_bad=both_bad,
                                       style=style_weighted)
        else:
            lb = leaderboard_from_cells(
                names, lookup[cells.left], lookup[cells.right], cells.outcome, cells.count,
                bootstrap_rounds=settings.ARENA_BOOTSTRAP_ROUNDS, seed=0,
                both_bad=both_bad,  # type: ignore[arg-type]
                elo=elo, style=style)
    except NoBattlesError:
        lb = None
    return Board(category=category, leaderboard=lb, votes=votes, left_wins=left_wins,
                 decisive=decisive, elo=elo)


def leaderboard_compute(*, arena: Arena) -> list[LeaderboardSnapshot]:
    """Review recent voters, then fit every board of the arena and store the snapshots."""
    from arena.leaderboards.services import snapshots_prune

    started = time.perf_counter()
    phases: dict[str, float] = {}
    last = LeaderboardSnapshot.objects.filter(arena=arena).aggregate(at=Max("computed_at"))["at"]
    contenders = {c.name: c for c in Contender.objects.filter(arenas=arena, enabled=True)
                  .select_related("provider")}
    boards, names, _ = compute_boards(arena=arena, contenders=contenders, phases=phases,
                                      since=last, review=True)
    excluded = dict(
        Vote.objects.filter(battle__arena=arena, is_valid=False)
        .values_list("invalid_reason").annotate(n=Count("id")).order_by()
    )
    dicts = [board_dict(b, names=names, contenders=contenders) for b in boards]
    seconds = time.perf_counter() - started
    phases["total_before_write"] = round(seconds, 3)
    dicts[0]["params"]["phases"] = phases  # type: ignore[index]
    with transaction.atomic():
        snapshots = LeaderboardSnapshot.objects.bulk_create([
            LeaderboardSnapshot(
                arena=arena, category=board["category"], method="bt", votes=board["votes"],
                rows=board["rows"], matrices=board["matrices"], params=board["params"],
                excluded=excluded if board["category"] == "" else {},
                position_bias=board["position_bias"], seconds=seconds,
            )
            for board in dicts
        ])
        snapshots_prune(arena=arena)
        slug = arena.slug
        categories = [str(b["category"]) for b in dicts]
        transaction.on_commit(lambda: events.leaderboard_push(
            slug, {"arena": slug, "categories": categories}))
    logger.info("refreshed %s in %.2f s: %s", arena.slug, time.perf_counter() - started, phases)
    return snapshots
