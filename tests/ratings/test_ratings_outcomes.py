from __future__ import annotations

import numpy as np
import pytest

from ratings import (
    InvalidBattleError,
    NoBattlesError,
    UnknownWinnerError,
    Winner,
    battles_from_arrays,
    load_battles,
    pair_counts,
    parse_winner,
)

ROWS = [
    ("b", "a", "model_a"),
    ("a", "c", "model_b"),
    ("c", "b", "tie"),
    ("a", "b", "tie (bothbad)"),
    ("a", "b", "model_a"),
]


def test_winner_strings_round_trip() -> None:
    for w in Winner:
        assert parse_winner(w.label) is w
    assert [w.label for w in Winner] == ["model_a", "model_b", "tie", "tie (bothbad)"]


def test_load_sorts_models_and_maps_indices() -> None:
    b = load_battles(ROWS)
    assert b.models == ("a", "b", "c")
    assert b.model_a.tolist() == [1, 0, 2, 0, 0]
    assert b.model_b.tolist() == [0, 2, 1, 1, 1]
    assert b.winner.tolist() == [0, 1, 2, 3, 0]
    assert len(b) == 5 and b.weights is None


def test_mappings_with_extra_keys() -> None:
    rows = [{"model_a": a, "model_b": c, "winner": w, "judge": "x"} for a, c, w in ROWS]
    assert load_battles(rows).winner.tolist() == load_battles(ROWS).winner.tolist()


def test_unknown_winner_names_row_and_value() -> None:
    rows = [*ROWS, ("a", "b", "draw")]
    with pytest.raises(UnknownWinnerError) as exc:
        load_battles(rows)
    assert exc.value.row == 5 and exc.value.value == "draw"
    assert "row 5" in str(exc.value) and "'draw'" in str(exc.value)


def test_unknown_winner_non_string() -> None:
    with pytest.raises(UnknownWinnerError, match="row 0"):
        load_battles([("a", "b", None)])


def test_self_battle_and_missing_key() -> None:
    with pytest.raises(InvalidBattleError, match="row 1: model 'a' battles itself"):
        load_battles([("a", "b", "tie"), ("a", "a", "tie")])
    with pytest.raises(InvalidBattleError, match="missing key 'winner'"):
        load_battles([{"model_a": "a", "model_b": "b"}])


def test_no_battles() -> None:
    with pytest.raises(NoBattlesError):
        load_battles([])
    with pytest.raises(NoBattlesError):
        load_battles([("a", "b", "tie")], exclude_ties=True)


def test_exclusions() -> None:
    assert len(load_battles(ROWS, exclude_ties=True)) == 3
    b = load_battles(ROWS, both_bad="exclude")
    assert len(b) == 4 and Winner.BOTH_BAD not in b.winner.tolist()


def test_pair_counts_orientation() -> None:
    c = pair_counts(load_battles(ROWS))
    assert list(zip(c.pair_i.tolist(), c.pair_j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]
    # pair (a, b): b won row 0 (as model_a), a won row 4, one both-bad tie
    assert c.wins_i.tolist() == [1, 0, 0]
    assert c.wins_j.tolist() == [1, 1, 0]
    assert c.ties.tolist() == [0, 0, 1]
    assert c.both_bad.tolist() == [1, 0, 0]
    assert c.votes.tolist() == [3, 1, 1]
    per = c.per_model()
    assert per["wins"].tolist() == [1, 1, 1]
    assert per["losses"].tolist() == [2, 1, 0]
    assert per["ties"].tolist() == [1, 2, 1]
    assert per["votes"].tolist() == [4, 4, 2]


def test_weights_are_normalised_and_summed() -> None:
    b = load_battles(ROWS, weights=[2, 2, 2, 2, 12])
    assert b.weights is not None and np.isclose(b.weights.mean(), 1.0)
    c = pair_counts(b)
    assert np.allclose(c.wins_i, [3.0, 0, 0])
    assert np.allclose(c.wins_j, [0.5, 0.5, 0])
    assert c.votes.tolist() == [3, 1, 1]
    with pytest.raises(InvalidBattleError, match="weight"):
        load_battles(ROWS, weights=[1, 1, 0, 1, 1])


def test_from_arrays_validation() -> None:
    b = battles_from_arrays(["x", "y"], [0, 1], [1, 0], [0, 2])
    assert b.models == ("x", "y")
    with pytest.raises(UnknownWinnerError):
        battles_from_arrays(["x", "y"], [0], [1], [7])
    with pytest.raises(InvalidBattleError):
        battles_from_arrays(["x", "y"], [0], [0], [0])
