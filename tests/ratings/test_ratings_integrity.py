"""Voter statistics: Wilson intervals, side bias and improbable choices."""

from __future__ import annotations

import numpy as np
import pytest

from ratings.integrity import improbable_choices_p_value, side_bias_p_value, wilson_interval


def test_wilson_interval_matches_the_textbook_value() -> None:
    # 81 successes in 263 trials: Wilson 95 % interval (0.2553, 0.3662)
    result = wilson_interval(81, 263)
    assert result.estimate == pytest.approx(81 / 263)
    assert result.ci_low == pytest.approx(0.2553, abs=1e-3)
    assert result.ci_high == pytest.approx(0.3662, abs=1e-3)
    assert wilson_interval(0, 0).estimate is None
    edge = wilson_interval(10, 10)
    assert edge.ci_high == pytest.approx(1.0) and 0.6 < edge.ci_low < 0.75


def test_side_bias_flags_always_left_but_not_a_fair_voter() -> None:
    assert side_bias_p_value(30, 30) < 1e-8
    assert side_bias_p_value(16, 30) > 0.5
    assert side_bias_p_value(0, 0) == 1.0


def test_improbable_choices_separates_honest_from_contrarian_voters() -> None:
    rng = np.random.default_rng(0)
    p_better = rng.uniform(0.7, 0.95, size=60)
    honest_picks_better = rng.random(60) < p_better
    honest = np.where(honest_picks_better, p_better, 1 - p_better)
    contrarian = 1 - p_better  # always picks the side the ratings find unlikely
    assert improbable_choices_p_value(honest) > 0.01
    assert improbable_choices_p_value(contrarian) < 1e-6
    assert improbable_choices_p_value([]) == 1.0
