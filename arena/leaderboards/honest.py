"""What a board may claim (issue 12): ranks only with evidence, style-controlled ratings only
when identified, inverse-probability weights only on votes whose draw probability is known,
and the command that reproduces the board from the public export.

Pure helpers over vote cells; :mod:`arena.leaderboards.refresh` calls them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings import battles_from_arrays, compute_leaderboard
from ratings.errors import NoBattlesError
from ratings.outcomes import BothBad
from ratings.provisional import ProvisionalRow, provisional_mask, provisional_rows
from ratings.style import StyleResult

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

STYLE_EXPLANATION = (
    "Style control asks who would win if both sides had taken the same time to generate and "
    "returned the same resolution and aspect ratio: one Bradley–Terry fit with these "
    "left-minus-right differences as extra terms, whose coefficients absorb their effect. "
    "A difference that is constant within each model (one provider always returns one size) "
    "cannot be told apart from the model itself, so it is dropped with a notice, and "
    "style-controlled ratings appear only when at least one difference is identified."
)


def recipe(*, bootstrap_rounds: int, min_votes: int, both_bad: BothBad) -> str:
    """The command that recomputes the main board from the public export."""
    command = (
        f"python -m ratings votes.jsonl --bootstrap {bootstrap_rounds} --seed 0 "
        f"--min-votes {min_votes}"
    )
    return command + (" --both-bad exclude" if both_bad == "exclude" else "")


@dataclass(frozen=True)
class RankedCells:
    """The cells a board's fit uses: both sides ranked, indices into ``names`` (sorted)."""

    names: tuple[str, ...]
    positions: IntArray  # each ranked name's index in the refresh's full name list
    left: IntArray
    right: IntArray
    outcome: IntArray
    count: IntArray
    keep: npt.NDArray[np.bool_]  # which of the given cells these are
    provisional: list[ProvisionalRow]


def ranked_cells(
    names: Sequence[str],
    left: IntArray,
    right: IntArray,
    outcome: IntArray,
    count: IntArray,
    *,
    min_votes: int,
    both_bad: BothBad,
) -> RankedCells:
    """Split a board's cells (``left``/``right`` index ``names``) by the provisional rule of
    :mod:`ratings.provisional`, after the tie rule, as ``python -m ratings --min-votes``."""
    rated = (count > 0) & ((outcome != 3) if both_bad == "exclude" else True)
    m = len(names)
    which = provisional_mask(m, left[rated], right[rated], count[rated], min_votes=min_votes)
    rows = provisional_rows(
        list(names), left[rated], right[rated], outcome[rated], count[rated], which
    )
    positions = np.flatnonzero(~which).astype(np.int64)
    new_index = np.full(m, -1, dtype=np.int64)
    new_index[positions] = np.arange(positions.shape[0])
    keep = rated & ~which[left] & ~which[right]
    return RankedCells(
        tuple(names[k] for k in positions),
        positions,
        new_index[left[keep]],
        new_index[right[keep]],
        outcome[keep],
        count[keep],
        keep,
        rows,
    )


def finite(value: float, digits: int = 2) -> float | None:
    """A number for the page and the API, or None: never nan, inf or a sentinel."""
    return round(float(value), digits) if math.isfinite(value) else None


def style_section(style: StyleResult) -> dict[str, object]:
    """What the page and the API show about style control: coefficients with their
    intervals, which covariates were dropped and why, and whether the controlled ratings may
    be shown at all."""
    return {
        "identified": bool(style.identified),
        "covariates": list(style.covariate_names),
        "coefficients": [finite(c) for c in style.coefficients],
        "coef_ci_low": [finite(c) for c in style.coef_ci_low],
        "coef_ci_high": [finite(c) for c in style.coef_ci_high],
        "requested": list(style.requested_covariates),
        "dropped": list(style.dropped),
        "notices": style.notice_messages(),
        "condition_number": finite(style.condition_number, 1),
        "design_rank": int(style.design_rank),
        "bootstrap_rounds": style.bootstrap_rounds,
        "explanation": STYLE_EXPLANATION,
    }


def ipw_section(
    ranked: RankedCells, probability: FloatArray | None, *, both_bad: BothBad, bootstrap_rounds: int
) -> tuple[dict[str, object], dict[str, tuple[float | None, float | None, float | None]]]:
    """The inverse-probability-weighted fit of the ranked models, on the votes whose draw
    probability is stored; the others are left out and counted, with a notice (never a
    silent switch to the unweighted fit). Returns the section and ``{model: (rating, low,
    high)}``."""
    total = int(ranked.count.sum())
    if probability is None:
        return {
            "votes_weighted": 0,
            "votes_without_probability": total,
            "notice": "No draw probability was read.",
        }, {}
    p = probability[ranked.keep]
    known = np.isfinite(p) & (p > 0)
    missing = int(ranked.count[~known].sum())
    notice = None
    if missing:
        notice = (
            f"{missing} of {total} counted votes have no stored draw probability (cast "
            "before the sampler recorded it) and are left out of the weighted ratings; "
            "the main board counts them."
        )
    section: dict[str, object] = {
        "votes_weighted": total - missing,
        "votes_without_probability": missing,
        "notice": notice,
    }
    n = ranked.count[known]
    if not n.sum():
        return section, {}
    battles = battles_from_arrays(
        ranked.names,
        np.repeat(ranked.left[known], n),
        np.repeat(ranked.right[known], n),
        np.repeat(ranked.outcome[known], n),
        weights=np.repeat(1.0 / p[known], n),
        both_bad=both_bad,
    )
    try:
        lb = compute_leaderboard(
            battles,
            method="bt",
            bootstrap_rounds=bootstrap_rounds,
            seed=0,
            both_bad=both_bad,
            online_elo=False,
        )
    except NoBattlesError:
        return section, {}
    section["regularized"] = lb.regularized
    return section, {
        r.model: (finite(r.rating), finite(r.ci_low), finite(r.ci_high)) for r in lb.rows
    }


def sampler_state(
    names: Sequence[str],
    left: IntArray,
    right: IntArray,
    outcome: IntArray,
    count: IntArray,
    ratings: dict[str, float],
    contender_ids: Sequence[int] = (),
) -> dict[str, object]:
    """What the adaptive sampler needs from a refresh (:mod:`arena.battles.pairing`): every
    model with counted votes, its rating (provisional ones: the mean, their few games give
    them a wide variance) and the games and ties between each pair; with ``contender_ids``
    (the contender of each name) their ids too, so a rename before the next refresh still
    finds its state (:func:`arena.leaderboards.apps._sampler_state`)."""
    m = len(names)
    games = np.zeros((m, m), dtype=np.int64)
    ties = np.zeros((m, m), dtype=np.int64)
    np.add.at(games, (left, right), count)
    tie = outcome >= 2
    np.add.at(ties, (left[tie], right[tie]), count[tie])
    games, ties = games + games.T, ties + ties.T
    played = np.flatnonzero(games.sum(axis=1) > 0)
    mean = float(np.mean(list(ratings.values()))) if ratings else 1000.0
    state: dict[str, object] = {
        "models": [names[k] for k in played],
        "ratings": [round(ratings.get(names[k], mean), 3) for k in played],
        "games": games[np.ix_(played, played)].tolist(),
        "ties": ties[np.ix_(played, played)].tolist(),
    }
    if contender_ids:
        state["contender_ids"] = [contender_ids[k] for k in played]
    return state
