"""Small numpy kernels that replace scipy on the rating path.

``python -m ratings`` spent about a quarter of a second (CPU) just importing
``scipy.sparse``, ``scipy.sparse.csgraph`` and ``scipy.special`` for three tiny jobs: the
logistic function, a strong-connectivity test on a graph of models, and a sparse
"pairs → models" sum. These do the same in numpy. They are exact (connectivity) or agree to
the last bit or two of a double (the logistic uses numpy's ``exp``, which on some CPUs
rounds differently from the C library's; the pair sums add in a different order).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["PairSums", "expit", "strongly_connected"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def expit(x: npt.ArrayLike) -> FloatArray:
    """Logistic function ``1 / (1 + exp(-x))`` (``scipy.special.expit``'s formula), with
    ``exp`` overflow giving 0 silently."""
    with np.errstate(over="ignore"):
        e = np.exp(-np.asarray(x, dtype=np.float64))
    np.add(e, 1.0, out=e)
    out: FloatArray = np.reciprocal(e, out=e)
    return out


def _reaches_all(m: int, src: IntArray, dst: IntArray) -> bool:
    """Whether every node is reachable from node 0 along edges ``src → dst`` (breadth-first,
    one numpy step per level)."""
    order = np.argsort(src, kind="stable")
    nbr = dst[order]
    indptr = np.searchsorted(src[order], np.arange(m + 1))
    seen = np.zeros(m, dtype=bool)
    seen[0] = True
    frontier = np.zeros(1, dtype=np.int64)
    count = 1
    while frontier.size and count < m:
        starts, ends = indptr[frontier], indptr[frontier + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if total == 0:
            break
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        reached = nbr[offsets + np.arange(total)]
        reached = np.unique(reached[~seen[reached]])
        seen[reached] = True
        count += reached.size
        frontier = reached
    return count == m


def strongly_connected(m: int, src: npt.ArrayLike, dst: npt.ArrayLike) -> bool:
    """Whether the directed graph on ``m`` nodes with edges ``src[k] → dst[k]`` is strongly
    connected: every node is reachable from node 0, and node 0 from every node (reachable
    from it in the reversed graph). O(edges) work, one numpy step per BFS level."""
    if m <= 1:
        return True
    s = np.asarray(src, dtype=np.int64).reshape(-1)
    d = np.asarray(dst, dtype=np.int64).reshape(-1)
    return _reaches_all(m, s, d) and _reaches_all(m, d, s)


class PairSums:
    """``g[model] = Σ_{pairs p with pair_i[p] = model} x[p] − Σ_{pair_j[p] = model} x[p]``
    for a batch ``x`` of shape ``(pairs, rounds)``: the per-model gradient from per-pair
    residuals, i.e. the product with the ±1 incidence matrix, as two segment sums.

    ``pair_i`` must be sorted (pair tables are sorted by ``(i, j)``)."""

    def __init__(self, m: int, pair_i: IntArray, pair_j: IntArray) -> None:
        self.m = m
        self._i_models, self._i_starts = self._segments(pair_i)
        self._j_order = np.argsort(pair_j, kind="stable")
        self._j_models, self._j_starts = self._segments(pair_j[self._j_order])

    @staticmethod
    def _segments(keys: IntArray) -> tuple[IntArray, IntArray]:
        if keys.shape[0] == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        first = np.ones(keys.shape[0], dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(first)
        return keys[starts], starts

    def __call__(self, x: FloatArray) -> FloatArray:
        g = np.zeros((self.m, *x.shape[1:]))
        if x.shape[0]:
            g[self._i_models] = np.add.reduceat(x, self._i_starts, axis=0)
            g[self._j_models] -= np.add.reduceat(x[self._j_order], self._j_starts, axis=0)
        return g
