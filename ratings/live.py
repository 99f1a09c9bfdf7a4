"""One online Elo step: the live number shown next to the Bradley-Terry rating.

Reference: the online Elo of FastChat's `compute_online_elo` (K=4, scale 400, base 10).
"""

from __future__ import annotations


def elo_expected(
    rating_a: float, rating_b: float, *, scale: float = 400.0, base: float = 10.0
) -> float:
    """Probability that A beats B under the logistic Elo model."""
    return 1.0 / (1.0 + base ** ((rating_b - rating_a) / scale))


def elo_update(
    rating_a: float,
    rating_b: float,
    score_a: float,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> tuple[float, float]:
    """Return both new ratings after one game; `score_a` is 1 (A won), 0.5 (tie) or 0."""
    if not 0.0 <= score_a <= 1.0:
        raise ValueError(f"score_a must be within [0, 1], got {score_a}")
    expected_a = elo_expected(rating_a, rating_b, scale=scale, base=base)
    delta = k * (score_a - expected_a)
    return rating_a + delta, rating_b - delta
