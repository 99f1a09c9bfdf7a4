"""Style-control design: covariate rows pooled by pair, and which covariates are identifiable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ratings.counts import _orient
from ratings.errors import RatingsError
from ratings.outcomes import Battles

DEFAULT_MIN_WITHIN_SHARE = 0.01
"""Least share of a covariate's (weighted) second moment that must vary independently of the
model identities and of the covariates kept before it (1 % = a variance inflation of 100)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class StyleNotice:
    """Why a covariate was dropped (or why style control is not identified at all).

    ``reason`` is one of ``"no_variation"``, ``"within_model"``, ``"collinear"``,
    ``"separation"``, ``"not_identified"``, ``"not_converged"``; ``message`` is human text
    for the page; ``covariate`` is ``None`` for notices about the whole fit.
    """

    covariate: str | None
    reason: str
    message: str


@dataclass(frozen=True, eq=False)
class StyleIdentifiability:
    """Outcome of :func:`style_identifiability`.

    ``kept`` are the column indices fitted; ``within_model_share[k]`` is the share of column
    ``k``'s weighted second moment not explained by the models (1 = independent of them, 0 =
    constant within each model); ``condition_number`` is that of the kept covariates'
    correlation matrix once the models are projected out (1 = orthogonal; ``nan`` if none);
    ``design_rank`` is the rank of ``[model indicator differences | kept covariates]``
    (``models − 1 + kept`` when the comparison graph is connected).
    """

    kept: tuple[int, ...]
    notices: tuple[StyleNotice, ...]
    within_model_share: FloatArray
    condition_number: float
    design_rank: int


@dataclass(frozen=True, eq=False)
class _Rows:
    pi: IntArray
    pj: IntArray
    x: FloatArray  # oriented towards pair_i
    outcome: IntArray  # 0: i wins, 1: j wins, 2: tie
    battles: FloatArray  # battles in the group
    weight: FloatArray  # the weight each of them carries (1 without weights)

    @property
    def count(self) -> FloatArray:
        """Effective (weighted) count of each group."""
        return self.battles * self.weight


def _group(battles: Battles, x: FloatArray) -> _Rows:
    """Pool battles by (pair, outcome, oriented covariate row)."""
    m = battles.num_models
    key, out = _orient(battles)
    swapped = battles.model_a > battles.model_b
    xo = np.where(swapped[:, None], -x, x)
    out = np.minimum(out, 2)
    w = np.ones(len(battles)) if battles.weights is None else battles.weights
    table = np.column_stack([key.astype(np.float64), out.astype(np.float64), w, xo])
    uniq, inverse = np.unique(table, axis=0, return_inverse=True)
    n = np.bincount(inverse.reshape(-1), minlength=uniq.shape[0]).astype(np.float64)
    k = uniq[:, 0].astype(np.int64)
    return _Rows(
        pi=k // m,
        pj=k % m,
        x=np.ascontiguousarray(uniq[:, 3:]),
        outcome=uniq[:, 1].astype(np.int64),
        battles=n,
        weight=uniq[:, 2].copy(),
    )


def _model_projection(m: int, rows: _Rows) -> FloatArray:
    """Residuals of each covariate column after the weighted least-squares fit of per-model
    constants ``g`` (``x ≈ g_i − g_j``): what the models' identities cannot explain."""
    c = rows.count
    lap = np.zeros((m, m))
    np.add.at(lap, (rows.pi, rows.pj), -c)
    np.add.at(lap, (rows.pj, rows.pi), -c)
    lap[np.diag_indices(m)] = -lap.sum(axis=1)
    cx = c[:, None] * rows.x
    rhs = np.empty((m, rows.x.shape[1]))
    for k in range(rows.x.shape[1]):
        rhs[:, k] = np.bincount(rows.pi, cx[:, k], m) - np.bincount(rows.pj, cx[:, k], m)
    g = np.linalg.lstsq(lap, rhs, rcond=None)[0]
    return rows.x - (g[rows.pi] - g[rows.pj])


def _laplacian_rank(m: int, rows: _Rows) -> int:
    """Rank of the model part of the design: ``m`` minus its number of connected components."""
    parent = list(range(m))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(rows.pi.tolist(), rows.pj.tolist(), strict=True):
        parent[find(i)] = find(j)
    return m - len({find(i) for i in range(m)})


def _identifiability(
    m: int, rows: _Rows, names: Sequence[str], min_within_share: float
) -> StyleIdentifiability:
    d = rows.x.shape[1]
    c = rows.count
    total = np.einsum("i,ij->j", c, rows.x**2)
    resid = _model_projection(m, rows)
    within = np.einsum("i,ij->j", c, resid**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, np.minimum(within / total, 1.0), 0.0)
    kept: list[int] = []
    notices: list[StyleNotice] = []
    for k in range(d):
        name = names[k]
        if total[k] <= 0:
            notices.append(
                StyleNotice(
                    name,
                    "no_variation",
                    (
                        f"{name!r} was dropped: it never differs between the two sides of a "
                        "battle, so it carries no information."
                    ),
                )
            )
            continue
        if share[k] < min_within_share:
            notices.append(
                StyleNotice(
                    name,
                    "within_model",
                    (
                        f"{name!r} was dropped: it is (almost) constant within each model (only "
                        f"{100 * share[k]:.2g} % of its variation is within models), so its effect "
                        "cannot be told apart from the models' own ratings."
                    ),
                )
            )
            continue
        if kept:
            # the part of this covariate's within-model variation the kept ones do not explain
            rk = resid[:, kept]
            sw = np.sqrt(c)[:, None]
            coef = np.linalg.lstsq(rk * sw, resid[:, k] * sw[:, 0], rcond=None)[0]
            rest = resid[:, k] - rk @ coef
            unique = float(c @ rest**2) / within[k]
            if unique * share[k] < min_within_share:
                corr = np.abs(np.einsum("i,ij,i->j", c, rk, resid[:, k])) / np.sqrt(
                    within[kept] * within[k]
                )
                others = [names[kept[j]] for j in np.argsort(-corr) if corr[j] > 0.1] or [
                    names[kept[int(np.argmax(corr))]]
                ]
                notices.append(
                    StyleNotice(
                        name,
                        "collinear",
                        (
                            f"{name!r} was dropped: beyond what the models explain, it is (almost) "
                            f"a linear combination of {', '.join(repr(o) for o in others)} "
                            f"({100 * (1 - unique):.3g} % shared), so their effects cannot be told "
                            "apart; the kept covariate carries the joint effect."
                        ),
                    )
                )
                continue
        kept.append(k)
    cond = float("nan")
    rank = _laplacian_rank(m, rows)
    if kept:
        rk = resid[:, kept]
        gram = np.einsum("i,ij,ik->jk", c, rk, rk)
        scale_ = 1.0 / np.sqrt(np.diag(gram))
        eig = np.linalg.eigvalsh(gram * scale_[:, None] * scale_[None, :])
        cond = float(eig[-1] / eig[0]) if eig[0] > 0 else float("inf")
        rank += int(np.sum(eig > eig[-1] * 1e-12))
    return StyleIdentifiability(
        kept=tuple(kept),
        notices=tuple(notices),
        within_model_share=share,
        condition_number=cond,
        design_rank=rank,
    )


def style_identifiability(
    battles: Battles,
    covariates: npt.ArrayLike,
    *,
    names: Sequence[str] | None = None,
    min_within_share: float = DEFAULT_MIN_WITHIN_SHARE,
) -> StyleIdentifiability:
    """Which covariates a Bradley–Terry fit with covariates can identify (see the module
    docstring): drops covariates that never vary, are (almost) constant within each model or
    (almost) collinear with covariates kept before them, and says why.

    Parameters are as in :func:`fit_bradley_terry_with_covariates`; the check is invariant to
    rescaling a column, so it does not depend on ``standardize``.

    References
    ----------
    Belsley, Kuh & Welsch, "Regression Diagnostics" (1980) for condition numbers and
    variance inflation; Li et al. (LMSYS, 2024) for style control.
    """
    x, col_names = _covariate_matrix(battles, covariates, names)
    rows = _group(battles, x)
    return _identifiability(battles.num_models, rows, col_names, min_within_share)


def _covariate_matrix(
    battles: Battles, covariates: npt.ArrayLike, names: Sequence[str] | None
) -> tuple[FloatArray, tuple[str, ...]]:
    x = np.asarray(covariates, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] != len(battles):
        raise RatingsError(f"got {x.shape[0]} covariate rows for {len(battles)} battles")
    if not np.all(np.isfinite(x)):
        bad = int(np.argwhere(~np.isfinite(x))[0, 0])
        raise RatingsError(f"row {bad}: covariates must be finite")
    d = x.shape[1]
    col_names = tuple(names) if names is not None else tuple(f"x{k}" for k in range(d))
    if len(col_names) != d:
        raise RatingsError(f"got {len(col_names)} covariate names for {d} columns")
    return x, col_names


def fit_notices(
    *, covariates: int, converged: bool, prior_fallback: bool, requested: Sequence[str]
) -> list[StyleNotice]:
    """What a style fit must say about itself (per-vote and on cells alike): a weak prior had to
    be added (separation), nothing was identified, or the fit did not converge."""
    notices = []
    if prior_fallback and covariates:
        notices.append(
            StyleNotice(
                None,
                "separation",
                "The covariates (almost) separate wins from losses, so the plain maximum "
                "likelihood does not exist; a weak prior keeps the coefficients finite, "
                "and they are shrunk towards zero.",
            )
        )
    if not covariates:
        dropped_all = ", ".join(repr(name) for name in requested) or "none was given"
        notices.append(
            StyleNotice(
                None,
                "not_identified",
                "Style control is not identified: no covariate can be told apart from the "
                f"models' ratings ({dropped_all}). The ratings are the plain ones; do not show "
                "them as style-controlled.",
            )
        )
    elif not converged:
        notices.append(
            StyleNotice(
                None,
                "not_converged",
                "Style control is not identified: the fit with covariates did not converge.",
            )
        )
    return notices
