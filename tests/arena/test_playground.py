"""The playground (issue 11): one chosen model, one prompt, any parameters the arena offers;
validated, moderated and rate-limited like a battle, normalised and served privately like a
battle's output, owner-only, and counted nowhere."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from arena.battles.models import Battle, Contender
from arena.leaderboards.models import PairCell
from arena.playground.models import Generation
from arena.votes.models import EloRating, Vote
from tests.conftest import VoterClient
from tests.media_probe import video_probe_bytes

IMAGES = "/api/arenas/text-to-image/generations"
VIDEOS = "/api/arenas/text-to-video/generations"


def _model(slug: str) -> Contender:
    return Contender.objects.filter(arenas__slug=slug, enabled=True).order_by("pk")[0]


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_an_image_generation_is_served_to_its_owner_at_the_chosen_form(
    demo_arena: Any, voter: VoterClient, make_voter: Any, run_on_commit: Any
) -> None:
    model = _model("text-to-image")
    created = run_on_commit(
        voter.post,
        IMAGES,
        {"model": model.pk, "prompt": "a red fox", "params": {"aspect_ratio": "16:9"}},
    )
    assert created.status_code == 201, created.content
    first = created.json()
    assert first["model"]["name"] == model.name and first["params"] == {"aspect_ratio": "16:9"}
    state = voter.get(f"/api/generations/{first['id']}").json()
    assert state["status"] == "ready", state
    assert state["delivered"]["aspect_ratio"] == "16:9"
    image = voter.get(state["url"])
    assert image.status_code == 200 and "private" in image["Cache-Control"]
    with Image.open(io.BytesIO(_body(image))) as img:
        assert img.size == (688, 387)  # the same one form a 16:9 battle gets
    other = make_voter()
    assert other.get(f"/api/generations/{first['id']}").status_code == 404
    assert other.get(state["url"]).status_code == 404
    assert voter.get("/api/generations/00000000-0000-0000-0000-000000000000").status_code == 404


def test_a_video_generation_takes_every_offered_parameter(
    demo_arena: Any, voter: VoterClient, run_on_commit: Any, tmp_path: Any
) -> None:
    model = _model("text-to-video")
    params = {"aspect_ratio": "9:16", "resolution": "480p", "duration_s": 4}
    created = run_on_commit(
        voter.post, VIDEOS, {"model": model.pk, "prompt": "waves at dawn", "params": params}
    )
    assert created.status_code == 201, created.content
    state = voter.get(f"/api/generations/{created.json()['id']}").json()
    assert state["status"] == "ready", state
    assert state["content_type"] == "video/mp4" and state["poster"]
    assert state["delivered"]["duration_s"] == 4 and state["delivered"]["width"] == 486
    info = video_probe_bytes(_body(voter.get(state["url"])), tmp_path, decode=False).info
    assert (info.width, info.height) == (486, 864)
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert voter.get(state["poster"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": "a fox"}, '"model"'),
        ({"model": "1", "prompt": "a fox"}, "whole number"),
        ({"model": True, "prompt": "a fox"}, "whole number"),
        ({"model": 999999, "prompt": "a fox"}, "No enabled model with id 999999"),
        ({"model": "MINE", "prompt": ""}, "empty"),
        ({"model": "MINE", "prompt": "a fox", "params": {"aspect_ratio": "2:1"}}, "not offered"),
        ({"model": "MINE", "prompt": "a fox", "params": {"duration_s": 4}}, "duration_s"),
        ({"model": "MINE", "prompt": "a fox", "seed": 3}, "Unknown field"),
        ({"model": "VIDEO", "prompt": "a fox"}, "No enabled model"),
    ],
)
def test_bad_requests_are_a_400_saying_why(
    demo_arena: Any, voter: VoterClient, body: dict[str, Any], words: str
) -> None:
    swap = {"MINE": _model("text-to-image").pk, "VIDEO": _model("text-to-video").pk}
    if isinstance(body.get("model"), str) and body["model"] in swap:
        body = {**body, "model": swap[body["model"]]}
    response = voter.post(IMAGES, body)
    assert response.status_code == 400, response.content
    assert words in response.json()["error"]["message"]
    assert not Generation.objects.exists()


def test_a_blocked_prompt_is_refused_like_a_battle(
    demo_arena: Any, voter: VoterClient, settings: Any
) -> None:
    settings.ARENA_PROMPT_BLOCKLIST = ["weapon"]
    response = voter.post(IMAGES, {"model": _model("text-to-image").pk, "prompt": "a WEAPON"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "prompt_refused"
    assert not Generation.objects.exists()


def test_the_playground_shares_the_battles_rate_limit(
    demo_arena: Any, voter: VoterClient, settings: Any
) -> None:
    settings.ARENA_RATE_BATTLES_PER_VOTER = 2
    model = _model("text-to-image").pk
    assert voter.post(IMAGES, {"model": model, "prompt": "one"}).status_code == 201
    assert voter.post("/api/arenas/text-to-image/battles", {"prompt": "two"}).status_code == 201
    refused = voter.post(IMAGES, {"model": model, "prompt": "three"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert Generation.objects.count() == 1


def test_a_generation_is_counted_nowhere(
    demo_arena: Any, voter: VoterClient, run_on_commit: Any
) -> None:
    run_on_commit(voter.post, IMAGES, {"model": _model("text-to-image").pk, "prompt": "a fox"})
    assert Generation.objects.get().status == "ready"
    assert not Battle.objects.exists() and not Vote.objects.exists()
    assert not PairCell.objects.filter(votes__gt=0).exists()
    assert not EloRating.objects.exists()


def test_a_provider_failure_reads_in_the_battles_words(
    demo_arena: Any, voter: VoterClient, run_on_commit: Any, monkeypatch: Any
) -> None:
    model = _model("text-to-image")
    model.provider.api_key_env = "ARENA_TEST_UNSET_KEY"
    model.provider.save()
    monkeypatch.delenv("ARENA_TEST_UNSET_KEY", raising=False)
    created = run_on_commit(voter.post, IMAGES, {"model": model.pk, "prompt": "a fox"})
    state = voter.get(f"/api/generations/{created.json()['id']}").json()
    assert state["status"] == "failed" and state["url"] is None
    assert "misconfigured" in state["failure"]
    assert "ARENA_TEST_UNSET_KEY" not in state["failure"]  # the operator's words stay private


def test_a_generation_left_running_past_the_timeout_reads_failed(
    demo_arena: Any, voter: VoterClient, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    created = voter.post(IMAGES, {"model": _model("text-to-image").pk, "prompt": "a fox"})
    generation = Generation.objects.get()
    assert generation.status == "pending"  # its task was never run (no commit here)
    Generation.objects.update(created_at=timezone.now() - timedelta(hours=1))
    state = voter.get(f"/api/generations/{created.json()['id']}").json()
    assert state["status"] == "failed" and "too long" in state["failure"]


def test_the_page_offers_the_models_and_the_tabs(demo_arena: Any, voter: VoterClient) -> None:
    page = voter.get("/arena/text-to-image/playground/").content.decode()
    assert 'id="model"' in page and _model("text-to-image").name in page
    assert "/arena/text-to-image/side-by-side/" in page
    side = voter.get("/arena/text-to-image/side-by-side/").content.decode()
    assert 'id="model-a"' in side and 'id="model-b"' in side and 'data-mode="side_by_side"' in side
    assert "/arena/text-to-image/playground/" in voter.get("/arena/text-to-image/").content.decode()


def test_operators_see_generations_read_only(
    demo_arena: Any, voter: VoterClient, admin_client: Any, run_on_commit: Any
) -> None:
    run_on_commit(voter.post, IMAGES, {"model": _model("text-to-image").pk, "prompt": "a fox"})
    generation = Generation.objects.get()
    listing = admin_client.get("/admin/playground/generation/")
    assert listing.status_code == 200 and str(generation.pk) in listing.content.decode()
    page = admin_client.get(f"/admin/playground/generation/{generation.pk}/change/")
    assert page.status_code == 200 and "a fox" in page.content.decode()
    assert admin_client.get("/admin/playground/generation/add/").status_code == 403
    battles = admin_client.get("/admin/battles/battle/?mode__exact=side_by_side")
    assert battles.status_code == 200


# ------------------------------------------------------------------ an image-editing arena
EDITS = "/api/arenas/image-editing/generations"


def _upload(voter: VoterClient, width: int = 96, height: int = 64) -> str:
    from tests.arena.test_image_edit import png, upload

    response = upload(voter, png(width, height))
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def test_an_edit_generation_edits_the_voters_own_upload(
    demo_arena: Any, voter: VoterClient, run_on_commit: Any
) -> None:
    from arena.battles.models import SourceImage

    model = _model("image-editing")
    source = _upload(voter)
    created = run_on_commit(
        voter.post, EDITS, {"model": model.pk, "prompt": "mirror it", "source_image": source}
    )
    assert created.status_code == 201, created.content
    state = voter.get(f"/api/generations/{created.json()['id']}").json()
    assert state["status"] == "ready", state
    assert state["modality"] == "image_edit" and state["source_image"] == f"/u/{source}"
    generation = Generation.objects.get()
    assert generation.source_image_id == source
    assert generation.params_used["input_sha256"] == SourceImage.objects.get(pk=source).sha256
    assert generation.params_used["operations"] == ["mirror"]  # the demo editor got the image
    with Image.open(io.BytesIO(_body(voter.get(state["url"])))) as img:
        assert img.width * 2 == img.height * 3  # the source's 3:2 framing, as in a battle


def test_the_source_image_rules_are_the_battles(
    demo_arena: Any, voter: VoterClient, make_voter: Any
) -> None:
    model = _model("image-editing")
    missing = voter.post(EDITS, {"model": model.pk, "prompt": "mirror it"})
    assert missing.status_code == 400 and "POST /api/uploads" in missing.json()["error"]["message"]
    source = _upload(voter)
    theirs = make_voter().post(
        EDITS, {"model": model.pk, "prompt": "mirror it", "source_image": source}
    )
    assert theirs.status_code == 400
    assert "not one of your uploads" in theirs.json()["error"]["message"]
    elsewhere = voter.post(
        IMAGES, {"model": _model("text-to-image").pk, "prompt": "a fox", "source_image": source}
    )
    assert elsewhere.status_code == 400
    assert "only accepted by image-editing" in elsewhere.json()["error"]["message"]
    not_an_id = voter.post(EDITS, {"model": model.pk, "prompt": "mirror it", "source_image": 7})
    assert not_an_id.status_code == 400
    assert not Generation.objects.exists()


def test_a_model_that_cannot_edit_is_refused_in_an_editing_playground(
    demo_arena: Any, voter: VoterClient
) -> None:
    from arena.battles.models import Arena, Provider

    stability = Provider.objects.create(name="Stability", kind="stability")
    outsider = Contender.objects.create(name="Outsider", provider=stability)
    outsider.arenas.add(Arena.objects.get(slug="image-editing"))
    refused = voter.post(
        EDITS, {"model": outsider.pk, "prompt": "mirror it", "source_image": _upload(voter)}
    )
    assert refused.status_code == 400 and "No enabled model" in refused.json()["error"]["message"]


def test_the_sweep_fails_a_stale_generation_nobody_reads(
    demo_arena: Any, voter: VoterClient
) -> None:
    """The periodic sweep (the beat's task) fails a generation left running past its arena's
    timeout, not only a read of it (the playground answers the battles' sweep signal)."""
    from datetime import timedelta

    from django.utils import timezone

    from arena.battles.tasks import battles_fail_stale_task

    voter.post(IMAGES, {"model": _model("text-to-image").pk, "prompt": "a fox"})
    fresh = voter.post(IMAGES, {"model": _model("text-to-image").pk, "prompt": "a cat"})
    Generation.objects.exclude(pk=fresh.json()["id"]).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    assert battles_fail_stale_task()["generations_failed"] == 1
    stale = Generation.objects.exclude(pk=fresh.json()["id"]).get()
    assert stale.status == "failed" and stale.error_code == "timeout"
    assert "too long" in stale.failure_reason and stale.finished_at is not None
    assert Generation.objects.get(pk=fresh.json()["id"]).status == "pending"
    assert battles_fail_stale_task()["generations_failed"] == 0
