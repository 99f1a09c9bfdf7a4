"""Vote cells: the counted votes of an arena grouped by the database (``GROUP BY``) into
(left model, right model, outcome) per prompt category, and per binned style covariates.

On PostgreSQL one scan with two grouping sets returns both; elsewhere (the embedded SQLite
default) two ORM queries do. Rows returned: O(models² × outcomes × categories or bins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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

from arena.battles.models import Arena, Battle
from arena.votes.models import Choice, Vote
from arena.votes.stream import OUTCOME_OF_CHOICE, outcome_code

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
        cursor.execute("SET LOCAL jit = off")  # compiling this plan costs seconds, saves none
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


