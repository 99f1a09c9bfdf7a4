"""Drawing two distinct contenders for a battle, with the probability of the draw recorded."""

from __future__ import annotations

import random
from collections.abc import Sequence


def pair_sample(weights: Sequence[float], rng: random.Random) -> tuple[int, int, float]:
    """Draw two distinct indices by weight, in random left/right order.

    Returns (left, right, p) where p is the probability of drawing this unordered pair, kept on
    the battle so ratings can be re-weighted by inverse probability.
    """
    live = [i for i, w in enumerate(weights) if w > 0]
    if len(live) < 2:
        raise ValueError("need at least two contenders with a positive sampling weight")
    total = float(sum(weights[i] for i in live))
    first = rng.choices(live, weights=[weights[i] for i in live])[0]
    rest = [i for i in live if i != first]
    second = rng.choices(rest, weights=[weights[i] for i in rest])[0]
    w1, w2 = float(weights[first]), float(weights[second])
    probability = w1 / total * w2 / (total - w1) + w2 / total * w1 / (total - w2)
    if rng.random() < 0.5:
        first, second = second, first
    return first, second, probability
