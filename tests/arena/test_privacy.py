"""Battle privacy: a battle, its outputs and its page belong to its voter; sharing is an explicit,
revocable link; the public vote export resolves to no battle and carries no prompt unless the
operator publishes prompts."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client

from arena.battles.models import Arena, Battle, BattleStatus

ARENA = "/api/arenas/text-to-image"


@pytest.fixture(autouse=True)
def small_images(demo_arena: Any) -> None:
    Arena.objects.update(width=64, height=64)


def ready_battle(client: Any, run_on_commit: Any, prompt: str = "a red fox") -> dict[str, Any]:
    created = run_on_commit(client.post, f"{ARENA}/battles", {"prompt": prompt})
    assert created.status_code == 201, created.content
    state = client.get(f"/api/battles/{created.json()['id']}").json()
    assert state["status"] == "ready"
    return dict(state)


def voted_battle(
    client: Any, run_on_commit: Any, prompt: str = "a red fox", choice: str = "left"
) -> dict[str, Any]:
    state = ready_battle(client, run_on_commit, prompt)
    assert client.post(f"/api/battles/{state['id']}/vote", {"choice": choice}).status_code == 200
    return state


def body_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


# --- A battle is its voter's -------------------------------------------------------------------
def test_another_voters_battle_reads_exactly_like_a_missing_one(
    make_voter: Any, run_on_commit: Any
) -> None:
    me, other = make_voter(), make_voter()
    battle = ready_battle(me, run_on_commit, "my secret prompt")
    assert me.get(f"/api/battles/{battle['id']}").status_code == 200

    theirs = other.get(f"/api/battles/{battle['id']}")
    missing = other.get("/api/battles/00000000-0000-0000-0000-000000000000")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()  # existence is not revealed either
    assert b"my secret prompt" not in theirs.content
    assert Client().get(f"/api/battles/{battle['id']}").status_code == 404  # no cookie at all


def test_another_voters_battle_costs_the_database_what_a_missing_one_does(
    make_voter: Any, run_on_commit: Any
) -> None:
    """Not only the same 404: the same statements. Loading another voter's battle (with its
    outputs) before checking its owner made its 404 one read longer than a missing battle's,
    a timing difference that tells a leaked id's battle exists (found in review)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from arena.battles import selectors
    from arena.battles.errors import NotFound

    me = make_voter()
    battle = ready_battle(me, run_on_commit, "my secret prompt")
    read = []
    for battle_id in (battle["id"], "00000000-0000-0000-0000-000000000000"):
        with CaptureQueriesContext(connection) as queries, pytest.raises(NotFound):
            selectors.battle_get_owned(battle_id=battle_id, voter_id="somebody-else")
        read.append([q["sql"] for q in queries.captured_queries])
    theirs, missing = read
    assert len(theirs) == len(missing) == 1, read
    assert "my secret prompt" not in str(theirs)


def test_battle_detail_is_never_kept_by_a_shared_cache(voter: Any, run_on_commit: Any) -> None:
    battle = ready_battle(voter, run_on_commit)
    response = voter.get(f"/api/battles/{battle['id']}")
    assert "private" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_output_files_are_served_only_to_the_battles_voter(
    make_voter: Any, run_on_commit: Any
) -> None:
    me, other = make_voter(), make_voter()
    battle = ready_battle(me, run_on_commit)
    urls = [o["url"] for o in battle["outputs"]]
    assert len(urls) == 2 and all(url.startswith("/o/") for url in urls)
    for url in urls:
        mine = me.get(url)
        assert mine.status_code == 200 and body_of(mine)[8:12] == b"WEBP"
        assert "private" in mine["Cache-Control"] and "Cookie" in mine["Vary"]
        assert other.get(url).status_code == 404
        assert Client().get(url).status_code == 404


def test_staff_still_see_every_output(
    voter: Any, run_on_commit: Any, django_user_model: Any
) -> None:
    battle = ready_battle(voter, run_on_commit)
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("op", password="x", is_staff=True))
    assert staff.get(battle["outputs"][0]["url"]).status_code == 200
    plain = Client()
    plain.force_login(django_user_model.objects.create_user("someone", password="x"))
    assert plain.get(battle["outputs"][0]["url"]).status_code == 404


def test_the_battle_page_of_another_voters_battle_is_404(
    make_voter: Any, run_on_commit: Any
) -> None:
    me, other = make_voter(), make_voter()
    battle = ready_battle(me, run_on_commit)
    page = f"/arena/text-to-image/?battle={battle['id']}"
    assert me.get(page).status_code == 200
    assert other.get(page).status_code == 404
    assert Client().get(page).status_code == 404
    assert me.get("/arena/text-to-image/?battle=not-a-uuid").status_code == 404
    Arena.objects.create(slug="elsewhere", title="Elsewhere")
    assert me.get(f"/arena/elsewhere/?battle={battle['id']}").status_code == 404
    assert me.get("/arena/text-to-image/").status_code == 200  # no battle asked: fine


# --- Sharing -----------------------------------------------------------------------------------
def test_a_battle_can_be_shared_only_by_its_voter_and_only_after_the_vote(
    make_voter: Any, run_on_commit: Any
) -> None:
    me, other = make_voter(), make_voter()
    battle = ready_battle(me, run_on_commit, "a lighthouse at dusk")
    early = me.post(f"/api/battles/{battle['id']}/share")
    assert early.status_code == 409
    assert "only after you have voted" in early.json()["error"]["message"]
    assert me.post(f"/api/battles/{battle['id']}/vote", {"choice": "right"}).status_code == 200

    theirs = other.post(f"/api/battles/{battle['id']}/share")
    assert theirs.status_code == 404
    assert (
        other.client.delete(
            f"/api/battles/{battle['id']}/share", headers=other._headers(None)
        ).status_code
        == 404
    )

    first = me.post(f"/api/battles/{battle['id']}/share")
    assert first.status_code == 201
    url = first.json()["url"]
    assert url.startswith("/s/") and len(url) > 30
    again = me.post(f"/api/battles/{battle['id']}/share")
    assert again.status_code == 200 and again.json()["url"] == url  # the same link twice
    assert Battle.objects.get(pk=battle["id"]).share_token == url.removeprefix("/s/")


def test_a_failed_battle_cannot_be_shared(voter: Any, run_on_commit: Any) -> None:
    battle = ready_battle(voter, run_on_commit)
    Battle.objects.filter(pk=battle["id"]).update(status=BattleStatus.FAILED)
    refused = voter.post(f"/api/battles/{battle['id']}/share")
    assert refused.status_code == 409 and "failed" in refused.json()["error"]["message"]


def test_the_share_page_shows_prompt_outputs_names_and_vote_to_anyone(
    voter: Any, run_on_commit: Any
) -> None:
    battle = voted_battle(voter, run_on_commit, "a lighthouse <b>at</b> dusk", choice="right")
    url = voter.post(f"/api/battles/{battle['id']}/share").json()["url"]
    stored = Battle.objects.select_related("left", "right").get(pk=battle["id"])

    stranger = Client()  # no cookie, no session: a person who was sent the link
    page = stranger.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "a lighthouse &lt;b&gt;at&lt;/b&gt; dusk" in html  # escaped, never raw HTML
    assert stored.left.name in html and stored.right.name in html
    assert "The voter preferred Model B." in html
    assert battle["id"] not in html  # the page never names the battle
    assert "counts" not in html  # whether the vote counted is for its voter alone
    assert "noindex" in page["X-Robots-Tag"] and "private" in page["Cache-Control"]

    files = [f"{url}/left", f"{url}/right"]
    for path in files:
        assert f'src="{path}"' in html
        image = stranger.get(path)
        assert image.status_code == 200 and image["Content-Type"] == "image/webp"
        assert body_of(image)[8:12] == b"WEBP"
        assert image["Cache-Control"] == "private, max-age=300"
    for output in battle["outputs"]:  # the owner's URLs stay the owner's
        assert output["url"] not in html
        assert stranger.get(output["url"]).status_code == 404


def test_revoking_a_share_makes_its_page_and_files_missing(
    make_voter: Any, run_on_commit: Any
) -> None:
    me = make_voter()
    battle = voted_battle(me, run_on_commit)
    url = me.post(f"/api/battles/{battle['id']}/share").json()["url"]
    stranger = Client()
    assert stranger.get(url).status_code == 200

    revoke = me.client.delete(f"/api/battles/{battle['id']}/share", headers=me._headers(None))
    assert revoke.status_code == 204
    assert stranger.get(url).status_code == 404
    assert stranger.get(f"{url}/left").status_code == 404
    again = me.client.delete(f"/api/battles/{battle['id']}/share", headers=me._headers(None))
    assert again.status_code == 204  # idempotent
    fresh = me.post(f"/api/battles/{battle['id']}/share")
    assert fresh.status_code == 201 and fresh.json()["url"] != url  # a new link, not the old


def test_unknown_share_tokens_and_sides_are_404(voter: Any, run_on_commit: Any) -> None:
    battle = voted_battle(voter, run_on_commit)
    url = voter.post(f"/api/battles/{battle['id']}/share").json()["url"]
    client = Client()
    assert client.get("/s/nope").status_code == 404
    assert client.get("/s/nope/left").status_code == 404
    assert client.get(f"{url}/middle").status_code == 404
    assert client.post(url).status_code == 405


def test_share_needs_the_csrf_token(voter: Any, run_on_commit: Any) -> None:
    battle = voted_battle(voter, run_on_commit)
    refused = voter.client.post(f"/api/battles/{battle['id']}/share")
    assert refused.status_code == 403
    assert not Battle.objects.filter(share_token__isnull=False).exists()


# --- The public vote export --------------------------------------------------------------------
def export_rows(client: Any, fmt: str = "jsonl") -> list[dict[str, str]]:
    response = client.get(f"{ARENA}/votes?format={fmt}")
    assert response.status_code == 200
    text = body_of(response).decode()
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


def test_the_export_carries_no_prompt_and_battle_ids_that_resolve_nowhere(
    voter: Any, run_on_commit: Any
) -> None:
    prompts = ["a quiet harbour", "a neon city in rain", "an owl reading a map"]
    battles = [voted_battle(voter, run_on_commit, p) for p in prompts]
    rows = export_rows(voter)
    assert len(rows) == 3
    raw = json.dumps(rows) + body_of(voter.get(f"{ARENA}/votes?format=csv")).decode()
    for prompt in prompts:
        assert prompt not in raw
    real_ids = {str(pk) for pk in Battle.objects.values_list("pk", flat=True)}
    real_hex = {pk.replace("-", "") for pk in real_ids}
    for row in rows:
        assert "prompt" not in row
        assert row["battle_id"] not in real_ids and row["battle_id"] not in real_hex
        assert len(row["battle_id"]) == 24
        # not even the owner can use it
        assert voter.get(f"/api/battles/{row['battle_id']}").status_code == 404
    for battle in battles:
        assert battle["id"] not in raw and battle["id"].replace("-", "") not in raw
    assert [r["battle_id"] for r in export_rows(voter)] == [r["battle_id"] for r in rows]
    assert len({r["battle_id"] for r in rows}) == 3


def test_with_export_prompts_the_prompts_are_published_and_the_pages_say_so(
    voter: Any, run_on_commit: Any, settings: Any
) -> None:
    assert b"Prompts may be published" not in voter.get("/arena/text-to-image/leaderboard/").content
    assert b"Prompts may be published" not in voter.get("/arena/text-to-image/").content

    settings.ARENA_EXPORT_PROMPTS = True
    assert b"Prompts may be published" in voter.get("/arena/text-to-image/leaderboard/").content
    assert b"Prompts may be published" in voter.get("/arena/text-to-image/").content
    # made after the page warned (one made before is not published: test_privacy_attacks)
    voted_battle(voter, run_on_commit, "a quiet harbour")
    assert [r["prompt"] for r in export_rows(voter)] == ["a quiet harbour"]
    assert [r["prompt"] for r in export_rows(voter, "csv")] == ["a quiet harbour"]
