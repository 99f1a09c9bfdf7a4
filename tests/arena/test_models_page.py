"""The models of an arena (issue 11): GET /api/arenas/{slug}/models and a page per model,
linked from the leaderboard."""

from __future__ import annotations

import re
from typing import Any

from arena.battles.models import Arena, Contender

MODELS = "/api/arenas/text-to-image/models"


def test_the_api_lists_the_arenas_enabled_models_with_public_facts(
    demo_arena: Any, voter: Any
) -> None:
    Contender.objects.filter(name="Demo Pixel").update(enabled=False, link="https://x.test/p")
    Contender.objects.filter(name="Demo Aurora").update(link="https://example.org/aurora")
    response = voter.get(MODELS)
    assert response.status_code == 200
    models = response.json()
    assert [m["name"] for m in models] == [
        "Demo Aurora",
        "Demo Mosaic",
        "Demo Sketch",
        "Demo Static",
    ]
    aurora = models[0]
    assert aurora == {
        "id": Contender.objects.get(name="Demo Aurora").pk,
        "name": "Demo Aurora",
        "organization": "Demo Lab North",
        "license": "demo material",
        "link": "https://example.org/aurora",
        "demo": True,
    }
    video = voter.get("/api/arenas/text-to-video/models").json()
    assert all(m["name"].endswith("Motion") for m in video) and len(video) == 4
    missing = voter.get("/api/arenas/no-such-arena/models")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert voter.post(MODELS, {}).status_code == 405


def test_a_model_page_shows_what_it_is_its_rating_and_win_rates_and_the_board_links_it(
    demo_arena: Any, make_voter: Any, run_on_commit: Any, client: Any
) -> None:
    Contender.objects.exclude(name__in=["Demo Aurora", "Demo Mosaic"]).update(enabled=False)
    Arena.objects.filter(slug="text-to-image").update(min_votes_to_rank=1)
    for _ in range(3):
        voter = make_voter()
        created = run_on_commit(
            voter.post, "/api/arenas/text-to-image/battles", {"prompt": "a red fox"}
        )
        state = created.json()
        run_on_commit(voter.post, f"/api/battles/{state['id']}/vote", {"choice": "left"})
    aurora = Contender.objects.get(name="Demo Aurora")
    board = client.get("/arena/text-to-image/leaderboard/").content.decode()
    link = f'href="/arena/text-to-image/models/{aurora.pk}/"'
    assert link in board
    page = client.get(f"/arena/text-to-image/models/{aurora.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Demo Aurora" in text and "Demo Lab North" in text and "demo material" in text
    assert "Win rates against each opponent" in text
    opponents = re.search(r'<table class="board" id="opponents">(.*?)</table>', text, re.S)
    assert opponents and "Demo Mosaic" in opponents.group(1)
    assert "3</td>" in opponents.group(1)  # three battles against it
    assert "rating" in text and "No rated votes yet" not in text


def test_a_model_of_another_arena_or_none_is_a_404(demo_arena: Any, client: Any) -> None:
    motion = Contender.objects.get(name="Demo Aurora Motion")
    assert client.get(f"/arena/text-to-image/models/{motion.pk}/").status_code == 404
    assert client.get(f"/arena/text-to-video/models/{motion.pk}/").status_code == 200
    assert client.get("/arena/text-to-image/models/999999/").status_code == 404
    assert client.get("/arena/text-to-image/models/abc/").status_code == 404


def test_a_model_without_votes_shows_no_rank_or_rating(demo_arena: Any, client: Any) -> None:
    aurora = Contender.objects.get(name="Demo Aurora")
    text = client.get(f"/arena/text-to-image/models/{aurora.pk}/").content.decode()
    assert "No rated votes yet" in text and "rank</div>" not in text
    assert "No battles counted yet" in text


def test_a_provisional_model_says_how_many_votes_it_still_needs(
    demo_arena: Any, voter: Any, run_on_commit: Any, client: Any
) -> None:
    Contender.objects.exclude(name__in=["Demo Aurora", "Demo Mosaic"]).update(enabled=False)
    Arena.objects.filter(slug="text-to-image").update(min_votes_to_rank=50)
    created = run_on_commit(voter.post, "/api/arenas/text-to-image/battles", {"prompt": "a fox"})
    run_on_commit(voter.post, f"/api/battles/{created.json()['id']}/vote", {"choice": "left"})
    aurora = Contender.objects.get(name="Demo Aurora")
    board = client.get("/arena/text-to-image/leaderboard/").content.decode()
    assert f'href="/arena/text-to-image/models/{aurora.pk}/"' in board  # provisional rows too
    text = client.get(f"/arena/text-to-image/models/{aurora.pk}/").content.decode()
    assert "Not ranked yet" in text and "50" in text and "rank</div>" not in text
