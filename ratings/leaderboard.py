"""One call from raw battles to a ranked leaderboard with intervals and matrices."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ratings.bootstrap import BootstrapResult, bootstrap_bradley_terry, bootstrap_elo
from ratings.bt import fit_bradley_terry, predicted_win_probability
from ratings.counts import PairCounts, pair_counts
from ratings.elo import DEFAULT_ELO, EloParams, compute_online_elo
from ratings.errors import RatingsError, UnknownModelError
from ratings.matrices import average_win_rate, battle_count_matrix, win_fraction_matrix
from ratings.outcomes import Battles, BothBad, _finish, keep_mask, load_battles
from ratings.style import StyleResult, fit_bradley_terry_with_covariates

__all__ = ["Leaderboard", "LeaderboardRow", "Method", "compute_leaderboard", "rank_by_intervals"]

Method = Literal["bt", "elo"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LeaderboardRow:
    """One model's line. ``rating`` is the point estimate (BT MLE or online Elo, per
    ``method``); ``ci_low``/``ci_high`` its bootstrap percentile interval; ``wins``/``ties``/
    ``losses``/``votes`` count battles (ties include both-bad); ``win_rate`` is the observed
    share won with ties counted half (weighted if weights were given); ``avg_win_prob`` the
    predicted chance to beat a uniformly drawn other model; ``elo`` the online Elo
    (``nan`` when not computed). ``style_*`` are the covariate-controlled rating and
    interval when covariates were given (else ``nan``)."""

    rank: int
    model: str
    rating: float
    ci_low: float
    ci_high: float
    votes: int
    wins: int
    ties: int
    losses: int
    win_rate: float
    avg_win_prob: float
    elo: float
    style_rating: float = float("nan")
    style_ci_low: float = float("nan")
    style_ci_high: float = float("nan")


@dataclass(frozen=True, eq=False)
class Leaderboard:
    """Result of :func:`compute_leaderboard`.

    ``rows`` are sorted by rating (best first). The matrices are indexed by ``models``
    (sorted names): ``battle_counts[i, j]`` battles between i and j, ``win_fraction[i, j]``
    observed share i won against j (ties half, ``nan`` if they never met),
    ``predicted_win[i, j]`` the model's ``P(i beats j)``.
    """

    rows: tuple[LeaderboardRow, ...]
    models: tuple[str, ...]
    method: Method
    num_battles: int
    bootstrap_rounds: int
    seed: int
    confidence: float
    anchor: tuple[str, float] | None
    center: float
    exclude_ties: bool
    both_bad: BothBad
    weighted: bool
    regularized: bool
    prior_strength: float
    regularized_rounds: int
    battle_counts: npt.NDArray[np.int64]
    win_fraction: FloatArray
    predicted_win: FloatArray
    bootstrap_samples: FloatArray | None = field(default=None, repr=False)
    style: StyleResult | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def row(self, model: str) -> LeaderboardRow:
        """The row of ``model``."""
        for r in self.rows:
            if r.model == model:
                return r
        raise UnknownModelError(f"unknown model {model!r}")

    def ratings(self) -> dict[str, float]:
        """``{model: rating}``."""
        return {r.model: r.rating for r in self.rows}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``nan`` → ``None``); bootstrap samples are left out."""

        def clean(x: Any) -> Any:
            if isinstance(x, float):
                return None if math.isnan(x) else x
            if isinstance(x, list):
                return [clean(v) for v in x]
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            return x

        return clean(
            {
                "rows": [asdict(r) for r in self.rows],
                "models": list(self.models),
                "method": self.method,
                "num_battles": self.num_battles,
                "bootstrap_rounds": self.bootstrap_rounds,
                "seed": self.seed,
                "confidence": self.confidence,
                "anchor": None if self.anchor is None else list(self.anchor),
                "center": self.center,
                "exclude_ties": self.exclude_ties,
                "both_bad": self.both_bad,
                "weighted": self.weighted,
                "regularized": self.regularized,
                "prior_strength": self.prior_strength,
                "regularized_rounds": self.regularized_rounds,
                "battle_counts": self.battle_counts.tolist(),
                "win_fraction": self.win_fraction.tolist(),
                "predicted_win": self.predicted_win.tolist(),
                "style": None
                if self.style is None
                else {
                    "covariates": list(self.style.covariate_names),
                    "standardized": self.style.standardized,
                    "coefficients": self.style.coefficients.tolist(),
                    "coef_ci_low": self.style.coef_ci_low.tolist(),
                    "coef_ci_high": self.style.coef_ci_high.tolist(),
                    "regularized": self.style.regularized,
                    "rows": self.style.rows,
                    "identified": self.style.identified,
                    "dropped": list(self.style.dropped),
                    "notices": self.style.notice_messages(),
                },
                "extra": dict(self.extra),
            }
        )


def rank_by_intervals(ci_low: FloatArray, ci_high: FloatArray) -> npt.NDArray[np.int64]:
    """Rank = 1 + number of models whose lower bound is above this model's upper bound
    (the LMArena convention: models with overlapping intervals share a rank)."""
    low = np.asarray(ci_low, dtype=np.float64)
    high = np.asarray(ci_high, dtype=np.float64)
    return 1 + (low[None, :] > high[:, None]).sum(axis=1).astype(np.int64)


def _normalise_anchor(
    anchor: tuple[str, float] | Mapping[str, float] | None, models: Sequence[str]
) -> tuple[str, float] | None:
    if anchor is None:
        return None
    if isinstance(anchor, Mapping):
        if len(anchor) != 1:
            raise RatingsError("anchor mapping must name exactly one model")
        anchor = next(iter(anchor.items()))
    name, value = anchor
    if name not in models:
        raise UnknownModelError(f"anchor model {name!r} is not among the rated models")
    return str(name), float(value)


def compute_leaderboard(
    battles: Battles | Iterable[Sequence[object] | Mapping[str, object]],
    *,
    method: Method = "bt",
    bootstrap_rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    anchor: tuple[str, float] | Mapping[str, float] | None = None,
    center: float = 1000.0,
    exclude_ties: bool = False,
    both_bad: BothBad = "tie",
    weights: npt.ArrayLike | None = None,
    models: Iterable[str] | None = None,
    online_elo: bool = True,
    elo_params: EloParams = DEFAULT_ELO,
    keep_samples: bool = False,
    workers: int | None = None,
    covariates: npt.ArrayLike | None = None,
    covariate_names: Sequence[str] | None = None,
    standardize_covariates: bool = True,
) -> Leaderboard:
    """Rate models from pairwise battles and rank them.

    Parameters
    ----------
    battles
        ``(model_a, model_b, winner)`` tuples or mappings (winner one of ``model_a``,
        ``model_b``, ``tie``, ``tie (bothbad)``), in chronological order (online Elo
        depends on it), or an already loaded :class:`~ratings.Battles`.
    method
        ``"bt"``: Bradley–Terry MLE (order-free, recommended); ``"elo"``: online Elo
        (K=4, FastChat semantics).
    bootstrap_rounds
        Bootstrap rounds for the intervals (0: no intervals, ``ci_low = ci_high = rating``).
        For ``"elo"`` each round replays all battles: O(rounds × battles).
    seed, confidence
        Seed for ``numpy.random.Generator`` (same seed → identical output), interval level.
    anchor
        ``(model, value)`` or ``{model: value}`` pins that model; default mean = ``center``.
    exclude_ties, both_bad
        Drop all ties; or treat ``tie (bothbad)`` as a tie (``"tie"``) or drop it.
    weights
        Optional per-battle weights (e.g. ``1 / sampling probability``), only with raw rows.
    models
        Extra models to list even without battles (prior-only ratings, see
        :mod:`ratings.bt`).
    covariates, covariate_names, standardize_covariates
        Optional per-battle covariate differences ``(battles, d)`` (model_a minus model_b,
        aligned with the input rows before filtering) for style control, see
        :func:`ratings.style.fit_bradley_terry_with_covariates`. The result's ``style`` and
        the rows' ``style_*`` fields are then filled (bootstrap: ``bootstrap_rounds``
        rounds, O(rounds × distinct rows)).

    Returns
    -------
    Leaderboard

    Raises
    ------
    UnknownWinnerError, InvalidBattleError, NoBattlesError, UnknownModelError
    """
    if method not in ("bt", "elo"):
        raise RatingsError(f"method must be 'bt' or 'elo', got {method!r}")
    if bootstrap_rounds < 0:
        raise RatingsError("bootstrap_rounds must be >= 0")
    if isinstance(battles, Battles):
        unfiltered = battles
        if models is not None and set(models) - set(battles.models):
            raise RatingsError("extra models can only be added when loading raw rows")
    else:
        unfiltered = load_battles(battles, models=models, weights=weights)
    keep = keep_mask(unfiltered.winner, exclude_ties=exclude_ties, both_bad=both_bad)
    data = _finish(
        unfiltered.models,
        unfiltered.model_a,
        unfiltered.model_b,
        unfiltered.winner,
        unfiltered.weights,
        exclude_ties,
        both_bad,
    )
    style: StyleResult | None = None
    x = np.zeros((len(unfiltered), 0))
    if covariates is not None:
        x = np.asarray(covariates, dtype=np.float64)
        x = x[:, None] if x.ndim == 1 else x
        if x.shape[0] != len(unfiltered):
            raise RatingsError(f"got {x.shape[0]} covariate rows for {len(unfiltered)} battles")
    anchor_t = _normalise_anchor(anchor, data.models)
    counts = pair_counts(data)
    raw: PairCounts = (
        counts
        if data.weights is None
        else pair_counts(Battles(data.models, data.model_a, data.model_b, data.winner, None))
    )
    elo = compute_online_elo(data, elo_params) if (online_elo or method == "elo") else None
    boot: BootstrapResult | None = None
    if method == "bt":
        fit = fit_bradley_terry(counts, anchor=anchor_t, center=center)
        rating = fit.ratings
        regularized, prior_strength = fit.regularized, fit.prior_strength
        pred = fit.win_probability()
        if bootstrap_rounds:
            boot = bootstrap_bradley_terry(
                data,
                rounds=bootstrap_rounds,
                seed=seed,
                confidence=confidence,
                point=fit,
                counts=counts,
                anchor=anchor_t,
                center=center,
                workers=workers,
            )
    else:
        assert elo is not None
        rating = elo.copy()
        if anchor_t is not None:
            k = data.models.index(anchor_t[0])
            rating = rating - rating[k] + anchor_t[1]
        regularized, prior_strength = False, 0.0
        pred = predicted_win_probability(rating, elo_params.scale, elo_params.base)
        if bootstrap_rounds:
            boot = bootstrap_elo(
                data,
                rounds=bootstrap_rounds,
                seed=seed,
                confidence=confidence,
                params=elo_params,
                anchor=anchor_t,
            )
    if covariates is not None:
        style = fit_bradley_terry_with_covariates(
            data,
            x[keep],
            names=covariate_names,
            standardize=standardize_covariates,
            anchor=anchor_t,
            center=center,
            bootstrap_rounds=bootstrap_rounds,
            seed=seed,
            confidence=confidence,
        )
    low = rating.copy() if boot is None else boot.ci_low
    high = rating.copy() if boot is None else boot.ci_high
    ranks = rank_by_intervals(low, high)
    per = raw.per_model()
    weighted = counts.per_model()
    with np.errstate(invalid="ignore", divide="ignore"):
        win_rate = (weighted["wins"] + 0.5 * weighted["ties"]) / (
            weighted["wins"] + weighted["ties"] + weighted["losses"]
        )
    avg_prob = average_win_rate(pred)
    nan = float("nan")
    order = sorted(range(data.num_models), key=lambda k: (-rating[k], data.models[k]))
    rows = tuple(
        LeaderboardRow(
            rank=int(ranks[k]),
            model=data.models[k],
            rating=float(rating[k]),
            ci_low=float(low[k]),
            ci_high=float(high[k]),
            votes=int(per["votes"][k]),
            wins=int(round(per["wins"][k])),
            ties=int(round(per["ties"][k])),
            losses=int(round(per["losses"][k])),
            win_rate=float(win_rate[k]),
            avg_win_prob=float(avg_prob[k]),
            elo=float("nan") if elo is None else float(elo[k]),
            style_rating=nan if style is None else float(style.ratings[k]),
            style_ci_low=nan if style is None else float(style.ci_low[k]),
            style_ci_high=nan if style is None else float(style.ci_high[k]),
        )
        for k in order
    )
    return Leaderboard(
        rows=rows,
        models=data.models,
        method=method,
        num_battles=len(data),
        bootstrap_rounds=bootstrap_rounds,
        seed=seed,
        confidence=confidence,
        anchor=anchor_t,
        center=center,
        exclude_ties=exclude_ties,
        both_bad=both_bad,
        weighted=data.weights is not None,
        regularized=regularized,
        prior_strength=prior_strength,
        regularized_rounds=0 if boot is None else boot.regularized_rounds,
        battle_counts=battle_count_matrix(raw),
        win_fraction=win_fraction_matrix(counts),
        predicted_win=pred,
        bootstrap_samples=None if (boot is None or not keep_samples) else boot.samples,
        style=style,
    )
