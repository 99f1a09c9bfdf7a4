"""The leaderboard explains its style column and card in a line each and never shows a value
the votes cannot pin down (a fit's −999)."""

from __future__ import annotations

from django.template.loader import render_to_string


def _board(style_rating: float, coef: float) -> str:
    board = {"votes": 40, "rows": [
        {"rank": 1, "model": "M1", "organization": "O", "rating": 1010.0, "ci_low": 990.0,
         "ci_high": 1030.0, "elo": 1005.0, "style_rating": style_rating, "votes": 40,
         "win_rate": 0.5}],
        "matrices": {"style": {"covariates": ["latency"]}}, "excluded": {},
        "position_bias": {}, "params": {}}
    return render_to_string("_leaderboard_body.html", {
        "board": board, "style_rows": [("latency", coef, coef - 5, coef + 5)]})


def test_style_column_and_card_are_explained() -> None:
    page = _board(1012.3, 12.5)
    assert 'id="style-note"' in page and "generation time" in page
    assert "1012.3" in page and "<strong>12.5</strong>" in page and "(7.5 to 17.5)" in page
    assert "sways votes" in page


def test_values_the_votes_cannot_pin_down_are_hidden() -> None:
    page = _board(-999.0, -999.0)
    assert "-999" not in page and "999" not in page
    assert "not identifiable yet" in page
    assert "cannot separate this model" in page
