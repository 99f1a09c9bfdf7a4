"""The leaderboard explains its style column and card in a line each, shows style-controlled
ratings only when the fit identified them, and never shows a value the votes cannot pin down."""

from __future__ import annotations

from django.template.loader import render_to_string


def _board(style_rating: float | None, coef: float, *, identified: bool) -> str:
    notices = [] if identified else ["latency is constant within each model: dropped."]
    board = {
        "votes": 40,
        "rows": [
            {
                "rank": 1,
                "model": "M1",
                "organization": "O",
                "rating": 1010.0,
                "ci_low": 990.0,
                "ci_high": 1030.0,
                "elo": 1005.0,
                "style_rating": style_rating,
                "votes": 40,
                "win_rate": 0.5,
            }
        ],
        "matrices": {
            "style": {
                "covariates": ["latency"],
                "identified": identified,
                "explanation": "Style control takes out what is not quality.",
                "notices": notices,
            }
        },
        "excluded": {},
        "position_bias": {},
        "params": {},
    }
    rows = [("latency", coef, coef - 5, coef + 5)] if identified else []
    return render_to_string(
        "_leaderboard_body.html", {"board": board, "style_rows": rows, "ranked_rows": board["rows"]}
    )


def test_style_column_and_card_are_explained() -> None:
    page = _board(1012.3, 12.5, identified=True)
    assert 'id="style-note"' in page and "generation time" in page
    assert "1012.3" in page and "<strong>12.5</strong>" in page and "(7.5 to 17.5)" in page
    assert "Style control takes out what is not quality." in page


def test_an_unidentified_style_fit_shows_no_style_values_and_says_why() -> None:
    page = _board(-999.0, -999.0, identified=False)
    assert "999" not in page and 'id="style-note"' not in page
    assert "constant within each model: dropped." in page


def test_the_interval_chart_leaves_out_provisional_models() -> None:
    from arena.leaderboards.charts import ratings_interval_svg

    ranked = {"model": "Ranked", "rating": 1010.0, "ci_low": 1000.0, "ci_high": 1020.0}
    # the live board before the first refresh carries an Elo 'rating' for provisional rows
    provisional = {"model": "Newcomer", "rating": 1000.0, "provisional": True}
    svg = ratings_interval_svg([ranked, provisional])
    assert "Ranked" in svg and "Newcomer" not in svg
    assert ratings_interval_svg([provisional]) == ""
