"""Choosing the pair for a battle: adaptive sampling by expected information, with the
probability of every draw recorded on the battle (for inverse-probability weighting).

The probabilities come from :func:`ratings.sampling.adaptive_pair_probabilities`, fed with the
state the latest refresh stored (ratings of every model with votes, the games and ties
between each pair): pairs whose outcome would settle the order of the top
``ARENA_SAMPLING_TOP`` are drawn more, every pair keeps at least ``ARENA_SAMPLING_UNIFORM_MIX``
of its uniform share (no model starved) and no model is in more than
``ARENA_SAMPLING_MAX_MODEL_SHARE`` of the battles (none flooded). A model without votes gets
the mean rating with a huge variance, so a newcomer is drawn often until it has its place.

Cheap per battle: no fit, one indexed query for the newest snapshot's id, and the
probabilities are computed once per (snapshot, contenders and their weights) and kept in
this process.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from django.conf import settings

from arena.battles.signals import sampler_state
from ratings.sampling import PairSampling, adaptive_pair_probabilities, fisher_covariance

_CACHE: OrderedDict[tuple[Any, ...], PairSampling] = OrderedDict()
_CACHE_SIZE = 64


def pair_probabilities(
    *, names: Sequence[str], weights: Sequence[float], state: dict[str, Any] | None
) -> PairSampling:
    """Draw probabilities over the pairs of ``names`` (operator ``weights``; 0 excludes a
    model) from a refresh's sampler state (None before the first refresh: all models
    unknown, so every pair is equally informative)."""
    m = len(names)
    known: dict[str, tuple[int, float]] = {}
    games = np.zeros((m, m))
    ties = np.zeros((m, m))
    if state:
        models = list(state.get("models", []))
        ratings = list(state.get("ratings", []))
        known = {name: (k, float(ratings[k])) for k, name in enumerate(models)}
        index = [known[name][0] if name in known else -1 for name in names]
        here = [i for i, k in enumerate(index) if k >= 0]
        src = [index[i] for i in here]
        if here:
            g = np.asarray(state.get("games", []), dtype=np.float64)
            t = np.asarray(state.get("ties", []), dtype=np.float64)
            games[np.ix_(here, here)] = g[np.ix_(src, src)]
            ties[np.ix_(here, here)] = t[np.ix_(src, src)]
    mean = float(np.mean([v for _, v in known.values()])) if known else 1000.0
    rating = np.array([known[name][1] if name in known else mean for name in names])
    covariance = fisher_covariance(rating, games, ties=ties)
    return adaptive_pair_probabilities(
        rating,
        covariance,
        top=settings.ARENA_SAMPLING_TOP,
        weights=list(weights),
        uniform_mix=settings.ARENA_SAMPLING_UNIFORM_MIX,
        max_model_share=settings.ARENA_SAMPLING_MAX_MODEL_SHARE,
    )


def arena_pair_probabilities(
    *, arena_id: int, names: Sequence[str], weights: Sequence[float]
) -> PairSampling:
    """:func:`pair_probabilities` from the arena's newest overall snapshot, cached per
    snapshot: a battle costs one indexed query, not a fit."""
    latest: object = None
    load: Callable[[], object] = lambda: None  # noqa: E731
    for _, answer in sampler_state.send(sender=None, arena_id=arena_id):
        # the receiver's contract (arena.battles.signals), which Signal.send cannot type
        latest, load = cast("tuple[object, Callable[[], object]]", answer)
    key = (
        arena_id,
        latest,
        tuple(names),
        tuple(float(w) for w in weights),
        settings.ARENA_SAMPLING_TOP,
        settings.ARENA_SAMPLING_UNIFORM_MIX,
        settings.ARENA_SAMPLING_MAX_MODEL_SHARE,
    )
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    state = load() if latest is not None else None
    sampling = pair_probabilities(
        names=names, weights=weights, state=state if isinstance(state, dict) else None
    )
    _CACHE[key] = sampling
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return sampling


def pair_draw(sampling: PairSampling, rng: random.Random) -> tuple[int, int, float]:
    """One draw: (left, right, probability of this unordered pair), sides at random."""
    probability = sampling.probability.tolist()
    k = rng.choices(range(len(probability)), weights=probability)[0]
    first, second = int(sampling.pair_i[k]), int(sampling.pair_j[k])
    if rng.random() < 0.5:
        first, second = second, first
    return first, second, float(probability[k])
