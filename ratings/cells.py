"""Cell filtering and pair orientation shared by the cell-based fits in :mod:`ratings.aggregate`."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ratings.errors import RatingsError
from ratings.outcomes import BothBad

IntArray = npt.NDArray[np.int64]


def _keep(outcome: IntArray, both_bad: BothBad) -> npt.NDArray[np.bool_]:
    if both_bad not in ("tie", "exclude"):
        raise RatingsError(f"both_bad must be 'tie' or 'exclude', got {both_bad!r}")
    if both_bad == "exclude":
        return np.asarray(outcome != 3)
    return np.ones(outcome.shape[0], dtype=bool)


def _orient(
    a: IntArray, b: IntArray, outcome: IntArray, m: int
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]]:
    """Unordered pair key ``i*m + j`` (i < j), the outcome seen from ``i``, and which cells
    were swapped (as :func:`ratings.counts._orient`, on cells)."""
    swapped = a > b
    lo = np.where(swapped, b, a)
    hi = np.where(swapped, a, b)
    decisive = outcome < 2
    out = np.where(decisive & swapped, 1 - outcome, outcome)
    return lo * m + hi, out, swapped
