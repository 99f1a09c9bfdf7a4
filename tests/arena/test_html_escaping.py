"""Every server-rendered place that shows a prompt or a model name escapes it: the share page,
the model page, the leaderboard (page, live fragment, SVG charts) and the admin. Each check
asserts the escaped text IS on the page (so the test sees the place it guards) and the raw
markup is not (so it fails when the escaping goes)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils.html import escape

from arena.battles.models import Arena, Battle, Contender
from arena.leaderboards import charts

IMG = '<img src=x onerror="window.__xss=1">'
PROMPT = f"a fox {IMG} </script><script>window.__xss=2</script>"
ARENA = "text-to-image"


def assert_escaped(html: str, raw: str, where: str) -> None:
    assert escape(raw) in html, f"{where}: the text is not shown at all"
    assert raw not in html, f"{where}: raw markup rendered"


@pytest.fixture
def evil(demo_arena: Any, voter: Any, run_on_commit: Any) -> dict[str, Any]:
    """Two contenders with markup in their names fight over a prompt with markup; voted, shared."""
    Arena.objects.update(width=64, height=64)
    Arena.objects.filter(slug=ARENA).update(min_votes_to_rank=1)  # ranked: charts, opponents
    arena = Arena.objects.get(slug=ARENA)
    players = list(Contender.objects.filter(arenas=arena, enabled=True).order_by("pk"))
    for contender in players[2:]:
        contender.enabled = False
        contender.save()
    names = [f"{IMG} model {i}" for i in range(2)]
    for contender, name in zip(players[:2], names, strict=True):
        contender.name, contender.organization = name, f"{IMG} org"
        contender.save()
    created = run_on_commit(voter.post, f"/api/arenas/{ARENA}/battles", {"prompt": PROMPT})
    assert created.status_code == 201, created.content
    battle = voter.get(f"/api/battles/{created.json()['id']}").json()
    assert battle["status"] == "ready" and battle["prompt"] == PROMPT
    voted = run_on_commit(voter.post, f"/api/battles/{battle['id']}/vote", {"choice": "left"})
    assert voted.status_code == 200
    share = voter.post(f"/api/battles/{battle['id']}/share").json()["url"]
    return {"battle": battle, "share": share, "players": players[:2], "names": names}


def test_the_share_page_escapes_the_prompt_and_both_names(evil: dict[str, Any]) -> None:
    html = Client().get(evil["share"]).content.decode()
    assert_escaped(html, PROMPT, "share page prompt")
    for name in evil["names"]:
        assert_escaped(html, name, "share page model name")


def test_the_model_page_escapes_its_name_and_its_opponents(evil: dict[str, Any]) -> None:
    first, second = evil["players"]
    html = Client().get(f"/arena/{ARENA}/models/{first.pk}/").content.decode()
    assert_escaped(html, first.name, "model page title")
    assert_escaped(html, second.name, "model page opponent")
    assert_escaped(html, first.organization, "model page organization")


def test_the_leaderboard_page_and_fragment_escape_names(evil: dict[str, Any]) -> None:
    for path in (f"/arena/{ARENA}/leaderboard/", f"/arena/{ARENA}/leaderboard/?fragment=1"):
        html = Client().get(path).content.decode()
        for name in evil["names"]:
            assert_escaped(html, name, path)
    page = Client().get(f"/arena/{ARENA}/leaderboard/").content.decode()
    drawn = "".join(re.findall(r"<svg.*?</svg>", page, re.S))
    for name in evil["names"]:  # the server-drawn SVG charts name the models too
        assert_escaped(drawn, name, "leaderboard chart")


def test_the_leaderboard_charts_escape_names() -> None:
    rows = [
        {"model": IMG, "rating": 1010.0, "ci_low": 990.0, "ci_high": 1030.0},
        {"model": "plain", "rating": 990.0, "ci_low": 970.0, "ci_high": 1010.0},
    ]
    svgs = {
        "ratings": charts.ratings_interval_svg(rows),
        "heatmap": charts.heatmap_svg(
            [IMG, "plain"], [[None, 0.6], [0.4, None]], title=IMG, percent=True
        ),
        "history": charts.history_svg(
            [
                ("2026-01-01", {IMG: 1000.0, "plain": 1000.0}),
                ("2026-01-02", {IMG: 1010.0, "plain": 990.0}),
            ]
        ),
    }
    for where, svg in svgs.items():
        assert svg, where
        assert IMG not in svg and "<img" not in svg, where
        assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in svg, where


def test_the_admin_escapes_prompts_and_names(evil: dict[str, Any]) -> None:
    User.objects.create_superuser("op", "op@example.com", "pw")
    client = Client()
    client.login(username="op", password="pw")
    first = evil["players"][0]
    battle = Battle.objects.get(pk=evil["battle"]["id"])
    pages = {
        "/admin/battles/contender/": evil["names"],
        f"/admin/battles/contender/{first.pk}/change/": [first.name],
        f"/admin/battles/contender/{first.pk}/test-generate/": [first.name],
        "/admin/battles/battle/": evil["names"],
        "/admin/battles/prompt/": [PROMPT],
        f"/admin/battles/prompt/{battle.prompt_id}/change/": [PROMPT],
        "/admin/votes/vote/": [],
    }
    for path, texts in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert IMG not in html and "<script>window.__xss" not in html, path
        for text in texts:
            assert escape(text) in html or escape(text)[:60] in html, (path, text)
