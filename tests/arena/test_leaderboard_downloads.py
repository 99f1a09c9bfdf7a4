"""Each board downloads as CSV or JSON, from the page and the API; the page links them and the
vote export."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest

from arena.leaderboards import services as lb_services
from tests.arena.test_leaderboards import play


@pytest.fixture
def board(demo_arena: Any, run_on_commit: Any, settings: Any) -> Any:
    settings.ARENA_BOOTSTRAP_ROUNDS = 50
    settings.ARENA_MIN_VOTES_TO_RANK = 1
    demo_arena.width = demo_arena.height = 64
    demo_arena.save()
    play(run_on_commit, 8, rng=random.Random(3), category="animals")
    lb_services.leaderboard_compute(arena=demo_arena)
    return demo_arena


@pytest.mark.parametrize(
    "base", ["/arena/text-to-image/leaderboard/", "/api/arenas/text-to-image/leaderboard"]
)
def test_format_csv_returns_the_table_as_csv(board: Any, voter: Any, base: str) -> None:
    response = voter.get(base + "?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 5
    assert list(rows[0])[:5] == ["rank", "model", "organization", "demo", "rating"]
    assert {r["model"] for r in rows} >= {"Demo Aurora", "Demo Static"}
    ranked = [r for r in rows if r["provisional"] != "True"]
    assert len(ranked) >= 2 and all(r["rank"] == "" for r in rows if r not in ranked)
    assert float(ranked[0]["rating"]) > float(ranked[-1]["rating"])
    again = voter.client.get(base + "?format=csv", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304


def test_the_page_downloads_json_and_per_category_files(board: Any, voter: Any) -> None:
    response = voter.get("/arena/text-to-image/leaderboard/?format=json&category=animals")
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="text-to-image-leaderboard-animals.json"'
    )
    assert response.json()["category"] == "animals" and response.json()["votes"] == 8
    csv_file = voter.get("/arena/text-to-image/leaderboard/?format=csv")
    assert csv_file["Content-Disposition"] == 'attachment; filename="text-to-image-leaderboard.csv"'
    assert voter.get("/arena/text-to-image/leaderboard/?format=xml").status_code == 400
    assert voter.get("/api/arenas/text-to-image/leaderboard?format=xml").status_code == 400
    assert voter.get("/arena/text-to-image/leaderboard/?format=csv&category=no").status_code == 404


def test_the_page_links_every_download(board: Any, voter: Any) -> None:
    page = voter.get("/arena/text-to-image/leaderboard/?category=animals").content.decode()
    for href in (
        'href="?format=csv&amp;category=animals"',
        'href="?format=json&amp;category=animals"',
        'href="/api/arenas/text-to-image/votes?format=csv"',
        'href="/api/arenas/text-to-image/votes?format=jsonl"',
        'href="/api/docs"',
    ):
        assert href in page


def test_a_model_name_cannot_become_a_spreadsheet_formula(board: Any, voter: Any) -> None:
    from arena.battles.models import Contender

    Contender.objects.filter(name="Demo Pixel").update(name='=HYPERLINK("x")')
    lb_services.leaderboard_compute(arena=board)
    text = voter.get("/api/arenas/text-to-image/leaderboard?format=csv").content.decode()
    assert "'=HYPERLINK" in text
