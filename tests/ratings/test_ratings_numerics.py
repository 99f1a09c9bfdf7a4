"""The numpy kernels that replaced scipy on the rating path, against scipy itself."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import expit as scipy_expit

from ratings.numerics import PairSums, expit, strongly_connected


def scipy_strongly_connected(m: int, src: np.ndarray, dst: np.ndarray) -> bool:
    g = sparse.csr_matrix((np.ones(src.shape[0]), (src, dst)), shape=(m, m))
    return bool(connected_components(g, directed=True, connection="strong")[0] == 1)


@settings(max_examples=400, deadline=None)
@given(
    st.integers(1, 9).flatmap(
        lambda m: st.tuples(
            st.just(m),
            st.lists(st.tuples(st.integers(0, m - 1), st.integers(0, m - 1)), max_size=30),
        )
    )
)
def test_strong_connectivity_matches_scipy(case: tuple[int, list[tuple[int, int]]]) -> None:
    m, edges = case
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    assert strongly_connected(m, src, dst) == scipy_strongly_connected(m, src, dst)


def test_strong_connectivity_on_long_cycles_and_a_broken_one() -> None:
    m = 2000
    src = np.arange(m)
    dst = (src + 1) % m
    assert strongly_connected(m, src, dst)
    assert not strongly_connected(m, src[:-1], dst[:-1])  # a path: 0 cannot be reached
    rng = np.random.default_rng(1)
    for _ in range(20):
        s, d = rng.integers(0, 60, 150), rng.integers(0, 60, 150)
        assert strongly_connected(60, s, d) == scipy_strongly_connected(60, s, d)


def test_expit_agrees_with_scipy_to_the_last_bit_or_so() -> None:
    x = np.concatenate([np.linspace(-800, 800, 20001), [0.0, -0.0, np.inf, -np.inf]])
    got, want = expit(x), scipy_expit(x)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.allclose(got, want, rtol=4e-16, atol=0)
    assert got[-2] == 1.0 and got[-1] == 0.0


def test_pair_sums_equal_the_incidence_product() -> None:
    rng = np.random.default_rng(3)
    m = 12
    pi, pj = np.triu_indices(m, 1)
    keep = rng.random(pi.shape[0]) < 0.6  # some pairs never met, some models only on one side
    pi, pj = pi[keep].astype(np.int64), pj[keep].astype(np.int64)
    inc = np.zeros((m, pi.shape[0]))
    inc[pi, np.arange(pi.shape[0])] = 1.0
    inc[pj, np.arange(pi.shape[0])] = -1.0
    x = rng.normal(size=(pi.shape[0], 7))
    assert np.allclose(PairSums(m, pi, pj)(x), inc @ x, rtol=1e-13, atol=1e-13)
    assert PairSums(m, pi[:0], pj[:0])(x[:0]).tolist() == np.zeros((m, 7)).tolist()
