from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from ratings import (
    DEFAULT_PRIOR,
    Battles,
    UnknownModelError,
    Winner,
    fit_bradley_terry,
    load_battles,
    pair_counts,
    simulate_battles,
)
from ratings.outcomes import WINNER_STRINGS

LN10 = math.log(10)


def expanded_rows(b: Battles) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-battle logistic rows: +ln10 for model_a, -ln10 for model_b, y = model_a won;
    a tie becomes two rows of weight 1/2 (y=1 and y=0)."""
    m = b.num_models
    xs, ys, ws = [], [], []
    for a, c, w in zip(b.model_a.tolist(), b.model_b.tolist(), b.winner.tolist(), strict=True):
        x = np.zeros(m)
        x[a], x[c] = LN10, -LN10
        if w == Winner.A:
            xs.append(x), ys.append(1.0), ws.append(1.0)
        elif w == Winner.B:
            xs.append(x), ys.append(0.0), ws.append(1.0)
        else:
            xs += [x, x]
            ys += [1.0, 0.0]
            ws += [0.5, 0.5]
    return np.array(xs), np.array(ys), np.array(ws)


def scipy_oracle(b: Battles) -> np.ndarray:
    x, y, w = expanded_rows(b)

    def f(c: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ c
        nll = np.sum(w * (np.logaddexp(0, z) - y * z))
        grad = x.T @ (w * (1 / (1 + np.exp(-z)) - y))
        return float(nll), grad

    def hess(c: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(x @ c)))
        return (x * (w * p * (1 - p))[:, None]).T @ x + 1e-12 * np.eye(x.shape[1])

    res = minimize(
        f,
        np.zeros(b.num_models),
        jac=True,
        hess=hess,
        method="trust-exact",
        options={"gtol": 1e-12},
    )
    r = 400 * res.x
    return r - r.mean() + 1000


def rows_of(b: Battles) -> list[tuple[str, str, str]]:
    return [
        (b.models[a], b.models[c], WINNER_STRINGS[Winner(w)])
        for a, c, w in zip(b.model_a.tolist(), b.model_b.tolist(), b.winner.tolist(), strict=True)
    ]


@pytest.fixture(scope="module")
def sim() -> Battles:
    return simulate_battles(
        [0, 120, -60, 35, 200, -150, 10], 2500, seed=11, tie_rate=0.25, both_bad_share=0.4
    )


def test_matches_scipy_oracle(sim: Battles) -> None:
    fit = fit_bradley_terry(pair_counts(sim))
    assert fit.converged and not fit.regularized and fit.prior_strength == 0
    assert np.max(np.abs(fit.ratings - scipy_oracle(sim))) < 0.01
    assert fit.ratings.mean() == pytest.approx(1000)


def test_matches_sklearn_oracle(sim: Battles) -> None:
    lm = pytest.importorskip("sklearn.linear_model")
    x, y, w = expanded_rows(sim)
    lr = lm.LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000)
    lr.fit(x, y, sample_weight=w)
    ref = 400 * lr.coef_[0]
    ref = ref - ref.mean() + 1000
    fit = fit_bradley_terry(pair_counts(sim))
    assert np.max(np.abs(fit.ratings - ref)) < 0.01


def test_scale_and_closed_form_two_models() -> None:
    # 3 wins, 1 loss, 2 ties: effective 4 vs 2 -> r_a - r_b = 400*log10(2).
    rows = [("a", "b", "model_a")] * 3 + [("a", "b", "model_b")] + [("b", "a", "tie")] * 2
    fit = fit_bradley_terry(pair_counts(load_battles(rows)))
    assert fit.ratings[0] - fit.ratings[1] == pytest.approx(400 * math.log10(2), abs=1e-8)
    assert fit.win_probability()[0, 1] == pytest.approx(2 / 3)


def test_anchor(sim: Battles) -> None:
    c = pair_counts(sim)
    free = fit_bradley_terry(c)
    pinned = fit_bradley_terry(c, anchor=(sim.models[3], 1200.0))
    assert pinned.ratings[3] == pytest.approx(1200.0)
    assert np.allclose(np.diff(pinned.ratings), np.diff(free.ratings), atol=1e-9)
    with pytest.raises(UnknownModelError):
        fit_bradley_terry(c, anchor=("nope", 1.0))


def test_swap_sides_invariance(sim: Battles) -> None:
    flip = np.array([1, 0, 2, 3], dtype=np.int8)[sim.winner]
    swapped = Battles(sim.models, sim.model_b, sim.model_a, flip)
    a = fit_bradley_terry(pair_counts(sim)).ratings
    b = fit_bradley_terry(pair_counts(swapped)).ratings
    assert np.allclose(a, b, atol=1e-9)


def test_order_invariance(sim: Battles) -> None:
    perm = np.random.default_rng(0).permutation(len(sim))
    shuffled = Battles(sim.models, sim.model_a[perm], sim.model_b[perm], sim.winner[perm])
    a = fit_bradley_terry(pair_counts(sim)).ratings
    b = fit_bradley_terry(pair_counts(shuffled)).ratings
    assert np.array_equal(a, b)


def test_recovers_strengths() -> None:
    truth = np.array([0, 120, -60, 35, 200, -150, 10, 80], dtype=float)
    b = simulate_battles(truth, 60_000, seed=5)
    fit = fit_bradley_terry(pair_counts(b))
    assert np.max(np.abs(fit.ratings - (truth - truth.mean() + 1000))) < 15


# ---- degenerate inputs -----------------------------------------------------------------


def test_never_lost_is_finite_and_regularized() -> None:
    rows = [
        ("a", "b", "model_a"),
        ("a", "c", "model_a"),
        ("b", "c", "model_a"),
        ("c", "b", "model_a"),
        ("b", "c", "tie"),
    ]
    fit = fit_bradley_terry(pair_counts(load_battles(rows)))
    assert fit.regularized and fit.prior_strength == DEFAULT_PRIOR
    assert np.all(np.isfinite(fit.ratings)) and fit.converged
    assert fit.ratings[0] == max(fit.ratings)
    assert fit.ratings.mean() == pytest.approx(1000)


def test_never_won_is_finite() -> None:
    rows = [("a", "b", "model_b"), ("a", "c", "model_b"), ("b", "c", "tie")]
    fit = fit_bradley_terry(pair_counts(load_battles(rows)))
    assert fit.regularized and np.all(np.isfinite(fit.ratings))
    assert fit.ratings[0] == min(fit.ratings)


def test_disconnected_groups() -> None:
    rows = [
        ("a", "b", "model_a"),
        ("b", "a", "model_a"),
        ("a", "b", "model_a"),
        ("x", "y", "model_b"),
        ("y", "x", "tie"),
    ]
    fit = fit_bradley_terry(pair_counts(load_battles(rows)))
    assert fit.regularized and np.all(np.isfinite(fit.ratings))
    r = fit.as_dict()
    assert r["a"] > r["b"] and r["y"] > r["x"]
    # the prior is tiny: within a group the difference is close to the unpenalised 400*log10(2)
    assert r["a"] - r["b"] == pytest.approx(400 * math.log10(2), abs=1.0)


def test_model_without_battles_gets_prior_rating() -> None:
    b = load_battles([("a", "b", "model_a"), ("b", "a", "model_a")], models=["z"])
    fit = fit_bradley_terry(pair_counts(b))
    assert fit.regularized and np.all(np.isfinite(fit.ratings))
    assert fit.as_dict()["z"] == pytest.approx(1000, abs=1e-6)


def test_single_model_trivial() -> None:
    b = load_battles([("a", "b", "tie")])
    c = pair_counts(b)
    from ratings.counts import PairCounts

    one = PairCounts(
        ("a",),
        c.pair_i[:0],
        c.pair_j[:0],
        c.wins_i[:0],
        c.wins_j[:0],
        c.ties[:0],
        c.both_bad[:0],
        c.votes[:0],
    )
    fit = fit_bradley_terry(one)
    assert fit.ratings.tolist() == [1000.0]


def test_forced_prior_shrinks() -> None:
    rows = [("a", "b", "model_a")] * 5 + [("a", "b", "model_b")]
    c = pair_counts(load_battles(rows))
    plain = fit_bradley_terry(c)
    shrunk = fit_bradley_terry(c, prior=2.0)
    assert not plain.regularized and shrunk.regularized
    assert 0 < shrunk.ratings[0] - shrunk.ratings[1] < plain.ratings[0] - plain.ratings[1]


# ---- properties ------------------------------------------------------------------------

NAMES = ["m0", "m1", "m2", "m3", "m4"]
battle = st.tuples(
    st.sampled_from(range(5)), st.sampled_from(range(1, 5)), st.sampled_from(list(WINNER_STRINGS))
).map(lambda t: (NAMES[t[0]], NAMES[(t[0] + t[1]) % 5], WINNER_STRINGS[t[2]]))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(rows=st.lists(battle, min_size=1, max_size=40), perm=st.permutations(range(5)))
def test_relabelling_permutes_scores(rows: list[tuple[str, str, str]], perm: list[int]) -> None:
    new_names = {NAMES[k]: f"z{perm[k]}" for k in range(5)}
    relabelled = [(new_names[a], new_names[b], w) for a, b, w in rows]
    f1 = fit_bradley_terry(pair_counts(load_battles(rows))).as_dict()
    f2 = fit_bradley_terry(pair_counts(load_battles(relabelled))).as_dict()
    assert all(math.isfinite(v) for v in f1.values())
    for name, value in f1.items():
        assert f2[new_names[name]] == pytest.approx(value, abs=1e-6)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(rows=st.lists(battle, min_size=3, max_size=40), extra=battle)
def test_one_more_win_never_lowers_the_winner(
    rows: list[tuple[str, str, str]], extra: tuple[str, str, str]
) -> None:
    a, b, _ = extra
    base = rows + [(a, b, "tie"), (b, a, "tie")]  # keep the same regime before and after
    more = base + [(a, b, "model_a")]
    before = fit_bradley_terry(pair_counts(load_battles(base)), prior=DEFAULT_PRIOR).as_dict()
    after = fit_bradley_terry(pair_counts(load_battles(more)), prior=DEFAULT_PRIOR).as_dict()
    assert after[a] >= before[a] - 1e-7
    assert after[b] <= before[b] + 1e-7
