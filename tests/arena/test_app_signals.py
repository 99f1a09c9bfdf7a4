"""The lower apps make the higher ones act through signals (docs/architecture.md): each
receiver is connected and does its part."""

from __future__ import annotations

from typing import Any

import pytest

from arena.battles.models import Contender
from arena.battles.services import sampling_weights
from arena.leaderboards.models import LeaderboardSnapshot


@pytest.mark.django_db
def test_sampling_reads_interval_widths_from_the_leaderboards_app(demo_arena: Any,
                                                                  settings: Any) -> None:
    settings.ARENA_SAMPLING_BOOST_MAX = 4.0
    settings.ARENA_SAMPLING_TARGET_CI_WIDTH = 50.0
    contenders = list(Contender.objects.filter(arenas=demo_arena).order_by("pk"))
    rated, wide, unrated = contenders[0], contenders[1], contenders[2]
    LeaderboardSnapshot.objects.create(arena=demo_arena, rows=[
        {"model": rated.name, "ci_low": 990.0, "ci_high": 1010.0, "votes": 40},  # narrow
        {"model": wide.name, "ci_low": 900.0, "ci_high": 1000.0, "votes": 5},  # twice the target
    ])
    weights = dict(zip([c.name for c in contenders],
                       sampling_weights(arena=demo_arena, contenders=contenders), strict=True))
    assert weights[rated.name] == pytest.approx(rated.sampling_weight * 1.0)
    assert weights[wide.name] == pytest.approx(wide.sampling_weight * 2.0)
    assert weights[unrated.name] == pytest.approx(unrated.sampling_weight * 4.0)
