"""Vote cells: the counted votes of an arena grouped into (left model, right model, outcome)
per prompt category, and per binned style covariates.

On PostgreSQL the database keeps them as votes arrive (:mod:`arena.leaderboards.maintained`);
elsewhere (the embedded SQLite default) two ORM ``GROUP BY`` queries count them. Rows
returned: O(models² × outcomes × categories or bins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from django.conf import settings
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
from arena.columns import sql_columns
from arena.votes.models import Choice
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
        return Cells(
            self.left[mask],
            self.right[mask],
            self.outcome[mask],
            self.count[mask],
            self.group[mask] if self.group.size else self.group,
            None if self.x is None else self.x[mask],
            None if self.probability is None else self.probability[mask],
        )

    def weighted(self) -> bool:
        """Inverse-probability weights apply only when every vote has its probability (as
        before: otherwise the board is unweighted)."""
        p = self.probability
        return p is not None and bool(self.count.size) and bool(np.all(p > 0))


def _counted_battles(arena: Arena) -> QuerySet[Battle]:
    return Battle.objects.filter(arena=arena, vote__is_valid=True).order_by()


def cells_by_category(
    *, arena: Arena, ipw: bool = False, categories: Sequence[str] | None = None
) -> tuple[Cells, list[str]]:
    """Counted votes per (category, left, right, outcome), and per sampling probability when
    votes are weighted by it: one ``GROUP BY``."""
    fields = ["prompt__category", "left_id", "right_id", "vote__choice"]
    if ipw:
        fields.append("sampling_probability")
    rows = [
        r if ipw else (*r[:4], None, r[4])
        for r in _counted_battles(arena).values_list(*fields).annotate(n=Count("pk"))
    ]
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
        outcome=np.fromiter((OUTCOME_OF_CHOICE[Choice(r[3])] for r in rows), np.int64, len(rows)),
        count=np.fromiter((r[5] for r in rows), np.int64, len(rows)),
        group=np.fromiter((index.get(r[0], -1) for r in rows), np.int64, len(rows)),
        probability=np.fromiter(
            (np.nan if r[4] is None else r[4] for r in rows), np.float64, len(rows)
        )
        if ipw
        else None,
    ), categories


def _style_queryset(arena: Arena) -> QuerySet[Battle]:
    """Per counted battle: the covariate differences (left minus right) and their bins.

    Same definitions as the per-vote code had: generation time difference clipped to ±120 s,
    log pixel ratio and aspect-ratio error difference (sizes default to the arena's), all
    zero when a side has no output.
    """
    want_w, want_h = float(arena.width), float(arena.height)
    float_field = FloatField()

    def side(prefix: str) -> tuple[Cast, Cast]:
        width = Cast(Coalesce(NullIf(F(f"{prefix}__width"), 0), Value(arena.width)), float_field)
        height = Cast(Coalesce(NullIf(F(f"{prefix}__height"), 0), Value(arena.height)), float_field)
        return width, height

    wl, hl = side("out_l")
    wr, hr = side("out_r")
    missing = Q(out_l__id__isnull=True) | Q(out_r__id__isnull=True)
    lat = Greatest(
        Value(-120.0),
        Least(
            Value(120.0),
            Coalesce(F("out_l__latency_s"), 0.0) - Coalesce(F("out_r__latency_s"), 0.0),
        ),
    )
    aspect = Value(want_w / want_h, output_field=float_field)
    qs = (
        _counted_battles(arena)
        .annotate(
            out_l=FilteredRelation("outputs", condition=Q(outputs__side="left")),
            out_r=FilteredRelation("outputs", condition=Q(outputs__side="right")),
        )
        .annotate(
            x_lat=Case(When(missing, then=Value(0.0)), default=lat, output_field=float_field),
            x_pix=Case(
                When(missing, then=Value(0.0)),
                default=Ln((wl * hl) / (wr * hr)),
                output_field=float_field,
            ),
            x_asp=Case(
                When(missing, then=Value(0.0)),
                default=Abs(Ln((wl / hl) / aspect)) - Abs(Ln((wr / hr) / aspect)),
                output_field=float_field,
            ),
        )
    )
    edges = sorted(settings.ARENA_STYLE_LATENCY_EDGES_S)
    step = settings.ARENA_STYLE_SIZE_STEP
    return qs.annotate(
        b_lat=Case(
            *(When(x_lat__lt=edge, then=Value(k)) for k, edge in enumerate(edges)),
            default=Value(len(edges)),
            output_field=IntegerField(),
        ),
        b_pix=Cast(Round(F("x_pix") / step), IntegerField()),
        b_asp=Cast(Round(F("x_asp") / step), IntegerField()),
        outcome=_outcome_code("vote__choice"),
    )


def cells_by_style(*, arena: Arena, ipw: bool = False) -> Cells:
    """Counted votes per (left, right, outcome, covariate bins), with each cell's covariate
    values: the common value when all its votes share it (then the fit is exactly the
    per-vote fit), else their mean."""
    qs = _style_queryset(arena).annotate(
        p=Coalesce(F("sampling_probability"), Value(-1.0)) if ipw else Value(-1.0)
    )
    rows = list(
        qs.values_list("left_id", "right_id", "outcome", "b_lat", "b_pix", "b_asp", "p").annotate(
            n=Count("pk"),
            lat_min=Min("x_lat"),
            lat_max=Max("x_lat"),
            lat_avg=Avg("x_lat"),
            pix_min=Min("x_pix"),
            pix_max=Max("x_pix"),
            pix_avg=Avg("x_pix"),
            asp_min=Min("x_asp"),
            asp_max=Max("x_asp"),
            asp_avg=Avg("x_asp"),
        )
    )
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return Cells(empty, empty, empty, empty, x=np.zeros((0, 3)))
    table = np.asarray([r[:3] + r[7:] for r in rows], dtype=np.float64)
    x = np.empty((table.shape[0], 3))
    for k in range(3):
        low, high, mean = table[:, 4 + 3 * k], table[:, 5 + 3 * k], table[:, 6 + 3 * k]
        x[:, k] = np.where(low == high, low, mean)
    p = np.asarray([r[6] for r in rows], dtype=np.float64)
    return Cells(
        left=table[:, 0].astype(np.int64),
        right=table[:, 1].astype(np.int64),
        outcome=table[:, 2].astype(np.int64),
        count=table[:, 3].astype(np.int64),
        x=x,
        probability=np.where(p > 0, p, np.nan) if ipw else None,
    )


_CHOICE_CODE = (
    "CASE choice "
    + " ".join(f"WHEN '{choice}' THEN {code}" for choice, code in OUTCOME_OF_CHOICE.items())
    + " ELSE 3 END"
)
_PAIR_READ = """
SELECT coalesce(array_position(%(categories)s::text[], category::text), 0) - 1, left_id,
       right_id, {choice}, {p}, sum(votes)
FROM leaderboards_paircell WHERE arena_id = %(arena)s AND votes > 0
GROUP BY category, left_id, right_id, choice, {p}
ORDER BY category, left_id, right_id, choice, {p}
"""
_STYLE_READ = """
SELECT left_id, right_id, {choice}, {p}, sum(votes), sum(sum_latency), sum(sum_pixels),
       sum(sum_aspect), min(min_latency), max(max_latency), min(min_pixels), max(max_pixels),
       min(min_aspect), max(max_aspect)
FROM leaderboards_stylecell WHERE arena_id = %(arena)s AND votes > 0
GROUP BY left_id, right_id, choice, {p}, bin_latency, bin_pixels, bin_aspect
ORDER BY left_id, right_id, choice, {p}, bin_latency, bin_pixels, bin_aspect
"""


def cells_fetch(
    *, arena: Arena, categories: Sequence[str], style: bool, ipw: bool
) -> tuple[Cells, Cells | None]:
    """Counted votes per (category, left, right, outcome) and, for style control, per (left,
    right, outcome, covariate bins); with ``ipw``, per sampling probability too.

    On PostgreSQL these are the cells the database keeps as votes arrive
    (:mod:`arena.leaderboards.maintained`): O(cells) rows read as packed columns, no vote
    scanned. A style cell's covariate value is the common value of its votes when they all
    share it (then the fit is exactly the per-vote fit), else their mean. Elsewhere two ORM
    ``GROUP BY`` queries over the votes."""
    from arena.leaderboards import maintained

    if not maintained.maintained():
        counts, _ = cells_by_category(arena=arena, ipw=ipw, categories=categories)
        return counts, (cells_by_style(arena=arena, ipw=ipw) if style else None)
    p = "probability" if ipw else "-1.0::float8"
    params = {"arena": arena.pk, "categories": list(categories)}

    def probability(column: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | None:
        return np.where(column > 0, column, np.nan) if ipw else None

    group, left, right, outcome, prob, count = sql_columns(
        _PAIR_READ.format(p=p, choice=_CHOICE_CODE),
        params,
        ["i4", "i8", "i8", "i4", "f8", "i8"],
        block_by=None,
    )
    counts = Cells(
        left=left,
        right=right,
        outcome=outcome.astype(np.int64),
        count=count,
        group=group.astype(np.int64),
        probability=probability(prob),
    )
    if not style:
        return counts, None
    left, right, outcome, prob, *stats = sql_columns(
        _STYLE_READ.format(p=p, choice=_CHOICE_CODE),
        params,
        ["i8", "i8", "i4", "f8", "i8"] + ["f8"] * 9,
        block_by=None,
    )
    n = stats[0]
    low, high = np.column_stack(stats[4::2]), np.column_stack(stats[5::2])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.column_stack(stats[1:4]) / n[:, None]
    return counts, Cells(
        left=left,
        right=right,
        outcome=outcome.astype(np.int64),
        count=n,
        x=np.where(low == high, low, mean).reshape(-1, 3),
        probability=probability(prob),
    )


def arena_categories() -> list[str]:
    """Every prompt category in use (an index scan of the prompts, not of the votes); the
    boards are kept for those with counted votes in the arena."""
    from arena.battles.models import Prompt

    return sorted(
        c for c in Prompt.objects.order_by().values_list("category", flat=True).distinct() if c
    )
