"""One leaderboard board: its fit from vote cells (:func:`fit_board`) and its JSON form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from django.conf import settings

from arena.battles.models import Contender
from arena.leaderboards.cells import STYLE_COVARIATES, Cells
from arena.leaderboards.honest import (
    RankedCells,
    finite,
    ipw_section,
    ranked_cells,
    recipe,
    sampler_state,
    style_section,
)
from arena.leaderboards.rows import BoardJSON, BoardRow, Interval
from ratings.aggregate import leaderboard_from_cells, style_from_cells
from ratings.errors import NoBattlesError
from ratings.integrity import wilson_interval
from ratings.leaderboard import Leaderboard
from ratings.outcomes import BothBad
from ratings.style import StyleResult

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


def fit_style(
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


def fit_board(
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
