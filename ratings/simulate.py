"""Synthetic battles from known ratings, for tests, benchmarks and demos."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ratings.outcomes import Battles, Winner, battles_from_arrays

__all__ = ["simulate_battles"]


def simulate_battles(
    ratings: npt.ArrayLike,
    n_battles: int,
    *,
    seed: int | np.random.Generator = 0,
    tie_rate: float = 0.0,
    both_bad_share: float = 0.0,
    scale: float = 400.0,
    base: float = 10.0,
    models: list[str] | None = None,
) -> Battles:
    """Draw battles between uniformly random distinct pairs under Bradley–Terry.

    With probability ``tie_rate`` a battle is a tie (a share ``both_bad_share`` of those is
    ``tie (bothbad)``); otherwise ``model_a`` wins with probability
    ``1 / (1 + base ** ((r_b - r_a) / scale))``. Since a tie is half a win each way, the fitted
    ratings stay unbiased only when ``tie_rate`` is 0 or the pair is even; tests that check
    recovery use ``tie_rate=0``.
    """
    r = np.asarray(ratings, dtype=np.float64)
    m = r.shape[0]
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    a = rng.integers(0, m, n_battles)
    b = rng.integers(0, m - 1, n_battles)
    b = b + (b >= a)
    p_a = 1.0 / (1.0 + np.power(base, (r[b] - r[a]) / scale))
    u = rng.random(n_battles)
    win = np.where(rng.random(n_battles) < p_a, Winner.A, Winner.B).astype(np.int8)
    tie = u < tie_rate
    bothbad = tie & (rng.random(n_battles) < both_bad_share)
    win[tie] = Winner.TIE
    win[bothbad] = Winner.BOTH_BAD
    width = max(1, int(math.log10(max(m - 1, 1))) + 1)
    names = models or [f"model-{k:0{width}d}" for k in range(m)]
    return battles_from_arrays(names, a, b, win)
