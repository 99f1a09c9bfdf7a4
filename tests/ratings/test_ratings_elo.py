from __future__ import annotations

import math

import numpy as np
import pytest

from ratings import EloParams, compute_online_elo, load_battles, online_elo, simulate_battles
from ratings.elo import elo_expected, elo_update, score_of_winner
from ratings.errors import RatingsError
from ratings.outcomes import WINNER_STRINGS, Winner
from ratings.replay import elo_replay


def fastchat_compute_online_elo(rows, k=4, scale=400, base=10, init=1000):  # type: ignore[no-untyped-def]
    """Verbatim logic of FastChat's compute_online_elo (dict-based)."""
    rating: dict[str, float] = {}
    for model_a, model_b, winner in rows:
        ra = rating.get(model_a, init)
        rb = rating.get(model_b, init)
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        if winner == "model_a":
            sa = 1
        elif winner == "model_b":
            sa = 0
        elif winner in ("tie", "tie (bothbad)"):
            sa = 0.5
        else:
            raise Exception(f"unexpected vote {winner}")
        rating[model_a] = ra + k * (sa - ea)
        rating[model_b] = rb + k * (1 - sa - eb)
    return rating


def test_hand_computed_updates() -> None:
    # 1) a beats b from 1000/1000: expected 0.5 each, a +2, b -2.
    # 2) b ties a: b expects 1/(1+10**(4/400)) = 0.4942434..., so b gains 4*0.0057566 and
    #    a loses the same amount.
    b = load_battles([("a", "b", "model_a"), ("b", "a", "tie")])
    r = compute_online_elo(b)
    e_b = 1 / (1 + 10**0.01)
    assert math.isclose(e_b, 0.4942438, abs_tol=1e-7)
    assert r[0] == pytest.approx(1002 - 4 * (0.5 - e_b), abs=1e-12)
    assert r[1] == pytest.approx(998 + 4 * (0.5 - e_b), abs=1e-12)
    assert r[0] == pytest.approx(1001.976975, abs=1e-6)
    assert r[1] == pytest.approx(998.023025, abs=1e-6)


def test_both_bad_scores_half() -> None:
    r = compute_online_elo(load_battles([("a", "b", "tie (bothbad)")]))
    assert r.tolist() == [1000.0, 1000.0]


def test_parameters() -> None:
    r = compute_online_elo(load_battles([("a", "b", "model_b")]), EloParams(k=32, initial=1500))
    assert r.tolist() == [1484.0, 1516.0]


def test_matches_fastchat_exactly_and_is_order_dependent() -> None:
    sim = simulate_battles([0, 50, 100, -80, 20], 3000, seed=3, tie_rate=0.2, both_bad_share=0.3)
    rows = [
        (sim.models[a], sim.models[b], WINNER_STRINGS[Winner(int(w))])
        for a, b, w in zip(sim.model_a, sim.model_b, sim.winner, strict=True)
    ]
    ours = compute_online_elo(load_battles(rows))
    ref = fastchat_compute_online_elo(rows)
    assert ours.tolist() == [ref[m] for m in sim.models]  # bit-identical
    rev = compute_online_elo(load_battles(rows[::-1]))
    assert not np.allclose(rev, ours)


def test_online_elo_on_index_arrays_is_fastchat_bit_for_bit() -> None:
    sim = simulate_battles([0, 50, 100, -80, 20, 7], 5000, seed=9, tie_rate=0.3, both_bad_share=0.4)
    rows = [
        (sim.models[a], sim.models[b], WINNER_STRINGS[Winner(int(w))])
        for a, b, w in zip(sim.model_a, sim.model_b, sim.winner, strict=True)
    ]
    ref = fastchat_compute_online_elo(rows)
    got = online_elo(sim.model_a, sim.model_b, score_of_winner(sim.winner), sim.num_models)
    assert got.dtype == np.float64 and got.shape == (6,)
    assert got.tolist() == [ref[m] for m in sim.models]
    assert got.tolist() == compute_online_elo(sim).tolist()
    # int32 indices and a plain list of scores give the very same numbers
    same = online_elo(
        sim.model_a.astype(np.int32),
        sim.model_b.astype(np.int32),
        score_of_winner(sim.winner).tolist(),
        6,
    )
    assert same.tolist() == got.tolist()


def test_online_elo_continues_from_earlier_ratings_exactly() -> None:
    sim = simulate_battles([0, 30, -60, 90], 4000, seed=4, tie_rate=0.2)
    sa = score_of_winner(sim.winner)
    full = online_elo(sim.model_a, sim.model_b, sa, 4)
    half = online_elo(sim.model_a[:1500], sim.model_b[:1500], sa[:1500], 4)
    rest = online_elo(sim.model_a[1500:], sim.model_b[1500:], sa[1500:], 4, initial=half)
    assert rest.tolist() == full.tolist()


def test_online_elo_parameters_and_models_without_battles() -> None:
    r = online_elo([0], [1], [0.0], 3, k=32, initial=1500)
    assert r.tolist() == [1484.0, 1516.0, 1500.0]
    assert online_elo([], [], [], 2).tolist() == [1000.0, 1000.0]
    r = online_elo([0, 1], [1, 0], [1.0, 0.5], 2, scale=200.0, base=math.e)
    ref = fastchat_compute_online_elo(
        [("a", "b", "model_a"), ("b", "a", "tie")], scale=200.0, base=math.e
    )
    assert r.tolist() == [ref["a"], ref["b"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 1], [1], [1.0, 0.0], 2), "values per battle"),
        (([0], [2], [1.0], 2), "out of range"),
        (([-1], [0], [1.0], 2), "out of range"),
        (([1], [1], [1.0], 2), "cannot play itself"),
        (([0.0], [1.0], [1.0], 2), "integers"),
    ],
)
def test_online_elo_rejects_bad_arrays(args: tuple, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(RatingsError, match=message):
        online_elo(*args)


def test_score_of_winner() -> None:
    codes = [Winner.A, Winner.B, Winner.TIE, Winner.BOTH_BAD]
    assert score_of_winner(np.array(codes, dtype=np.int8)).tolist() == [1.0, 0.0, 0.5, 0.5]


def test_every_elo_entry_point_is_the_same_loop_bit_for_bit() -> None:
    """One Elo implementation: the single step, the per-board replay and the vectorised
    expectation all agree exactly with ``online_elo``."""
    rng = np.random.default_rng(11)
    m, n = 6, 3000
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    outcome = rng.integers(0, 4, n)
    group = rng.integers(-1, 2, n)
    score = score_of_winner(outcome)
    reference = online_elo(a, b, score, m)
    stepped = [1000.0] * m
    for i, j, s in zip(a.tolist(), b.tolist(), score.tolist(), strict=True):
        stepped[i], stepped[j] = elo_update(stepped[i], stepped[j], s)
    np.testing.assert_array_equal(np.asarray(stepped), reference)
    table = elo_replay(a, b, outcome, num_models=m, group=group, num_groups=2)
    np.testing.assert_array_equal(table.ratings[0], reference)
    for g in range(2):
        mine = group == g
        np.testing.assert_array_equal(
            table.ratings[g + 1], online_elo(a[mine], b[mine], score[mine], m)
        )
    vector = elo_expected(reference[a[:50]], reference[b[:50]])
    scalar = [
        elo_expected(float(x), float(y))
        for x, y in zip(reference[a[:50]], reference[b[:50]], strict=True)
    ]
    np.testing.assert_allclose(vector, scalar, rtol=1e-15)
    with pytest.raises(RatingsError):
        elo_update(1000.0, 1000.0, 1.5)
