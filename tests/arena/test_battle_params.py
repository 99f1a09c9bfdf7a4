"""Voter-chosen generation parameters (issue 11): each arena declares what voters may choose,
a battle takes one choice, and both sides are delivered in exactly that form whatever each
provider natively returned."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from arena.battles.models import Arena, Battle, Contender, Modality, Output, Provider
from arena.battles.params import output_form
from tests.conftest import VoterClient
from tests.fakes import OpenAIVideoFake, start_fake
from tests.fakes.testing import FAST_OPTIONS
from tests.media_probe import video_probe_bytes

IMAGES = "/api/arenas/text-to-image/battles"
VIDEOS = "/api/arenas/text-to-video/battles"


# ------------------------------------------------------------------ what an arena may declare
@pytest.mark.parametrize(
    ("params", "modality", "problem"),
    [
        ({"fps": [24]}, "video", "unknown parameter 'fps'"),
        ({"aspect_ratio": "16:9"}, "image", "non-empty list"),
        ({"aspect_ratio": []}, "image", "non-empty list"),
        ({"aspect_ratio": ["16x9"]}, "image", "not an aspect ratio"),
        ({"aspect_ratio": ["10:1"]}, "image", "more extreme"),
        ({"resolution": ["720"]}, "video", "not a resolution"),
        ({"resolution": ["9000p"]}, "video", "between 144p and 2160p"),
        ({"duration_s": [4]}, "image", "video arenas only"),
        ({"duration_s": [0, 4]}, "video", "above 0"),
        ({"duration_s": [True]}, "video", "must be a number"),
        ({"aspect_ratio": ["1:1", "1:1"]}, "image", "twice"),
        (["1:1"], "image", "JSON object"),
    ],
)
def test_an_arena_declaring_unusable_params_is_refused_in_words(
    db: None, params: Any, modality: str, problem: str
) -> None:
    arena = Arena(slug="x", title="X", modality=modality, params=params)
    with pytest.raises(ValidationError) as caught:
        arena.full_clean()
    assert any(problem in message for message in caught.value.message_dict["params"]), (
        caught.value.message_dict
    )


def test_the_admin_form_refuses_bad_params_and_saves_good_ones(admin_client: Any) -> None:
    form = {
        "slug": "clips",
        "title": "Clips",
        "modality": "video",
        "reveal_policy": "together",
        "width": 854,
        "height": 480,
        "generation_timeout_s": 180,
        "is_active": "on",
        "both_bad_counts_as_tie": "on",
        "instant_stock": 0,  # what the admin's form sends by default
        "instant_daily_outputs": 500,
        "params": '{"duration_s": [4, -1]}',
    }
    refused = admin_client.post("/admin/battles/arena/add/", form)
    assert refused.status_code == 200 and b"above 0" in refused.content
    form["params"] = '{"aspect_ratio": ["9:16"], "duration_s": [4, 8]}'
    assert admin_client.post("/admin/battles/arena/add/", form).status_code == 302
    assert Arena.objects.get(slug="clips").params == {
        "aspect_ratio": ["9:16"],
        "duration_s": [4, 8],
    }


# ------------------------------------------------------------------------ what a voter sends
@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        (
            IMAGES,
            {"aspect_ratio": "2:1"},
            ["aspect_ratio '2:1' is not offered", "1:1, 16:9, 9:16, 4:3, 3:4"],
        ),
        (VIDEOS, {"duration_s": 5}, ["duration_s 5 is not offered", "4, 8"]),
        (VIDEOS, {"duration_s": "4"}, ["duration_s '4' is not offered", "4, 8"]),
        (VIDEOS, {"resolution": "1080p"}, ["480p, 720p"]),
        (
            IMAGES,
            {"duration_s": 4},
            ["does not offer the parameter 'duration_s'", "it offers aspect_ratio"],
        ),
        (VIDEOS, ["9:16"], ["params must be a JSON object"]),
    ],
)
def test_a_value_not_offered_is_a_400_listing_the_allowed_ones(
    demo_arena: Any, voter: Any, path: str, params: Any, words: list[str]
) -> None:
    response = voter.post(path, {"prompt": "a red fox", "params": params})
    assert response.status_code == 400, response.content
    message = response.json()["error"]["message"]
    for word in words:
        assert word in message, message
    assert not Battle.objects.exists()


def test_an_arena_offering_nothing_refuses_any_param(demo_arena: Any, voter: Any) -> None:
    Arena.objects.filter(slug="text-to-image").update(params={})
    response = voter.post(IMAGES, {"prompt": "a fox", "params": {"aspect_ratio": "1:1"}})
    assert response.status_code == 400
    assert "offers no parameters" in response.json()["error"]["message"]
    assert voter.post(IMAGES, {"prompt": "a fox", "params": {}}).status_code == 201


def test_what_the_voter_leaves_out_takes_the_first_offered_value(
    demo_arena: Any, voter: Any
) -> None:
    created = voter.post(VIDEOS, {"random_prompt": True, "params": {"duration_s": 8.0}})
    assert created.status_code == 201, created.content
    chosen = {"aspect_ratio": "16:9", "resolution": "480p", "duration_s": 8}
    assert created.json()["params"] == chosen
    assert Battle.objects.get().params == chosen
    assert Battle.objects.get().prompt.modality == Modality.VIDEO  # the video prompt bank


# ------------------------------------------------------------------------- the one output form
@pytest.mark.parametrize(
    ("params", "even", "size"),
    [
        ({"aspect_ratio": "9:16", "resolution": "480p"}, True, (486, 864)),
        ({"aspect_ratio": "9:16", "resolution": "720p"}, True, (720, 1280)),
        ({"aspect_ratio": "16:9", "resolution": "720p"}, True, (1280, 720)),
        ({"aspect_ratio": "1:1", "resolution": "480p"}, True, (480, 480)),
        ({"aspect_ratio": "16:9"}, False, (688, 387)),  # the arena's 512² area at 16:9
        ({"aspect_ratio": "16:9", "resolution": "2160p"}, True, (1536, 864)),  # capped
        ({}, False, (512, 512)),
    ],
)
def test_the_output_form_has_exactly_the_chosen_aspect_ratio(
    params: dict[str, Any], even: bool, size: tuple[int, int]
) -> None:
    form = output_form(
        params=params, width=512, height=512, duration_s=None, max_side=1536, even=even
    )
    assert (form.width, form.height) == size
    if "aspect_ratio" in params:
        a, b = map(int, params["aspect_ratio"].split(":"))
        assert form.width * b == form.height * a
    if even:
        assert form.width % 2 == 0 and form.height % 2 == 0


def test_an_image_battle_serves_both_sides_at_the_chosen_aspect_ratio(
    demo_arena: Any, voter: Any, run_on_commit: Any
) -> None:
    created = run_on_commit(
        voter.post, IMAGES, {"prompt": "a red fox", "params": {"aspect_ratio": "16:9"}}
    )
    state = voter.get(f"/api/battles/{created.json()['id']}").json()
    assert state["status"] == "ready" and state["params"] == {"aspect_ratio": "16:9"}
    for output in state["outputs"]:
        body = b"".join(voter.get(output["url"]).streaming_content)
        with Image.open(io.BytesIO(body)) as img:
            assert img.size == (688, 387)
    for output in Output.objects.filter(battle_id=state["id"]):
        assert output.params_used["delivered"]["aspect_ratio"] == "16:9"
        assert output.params_used["width"] == 688  # the demo draws the size it is asked for
        assert "size" not in output.params_mapped


# ------------------------------------------------------------- the goal: two 9:16, 4.0 s MP4s
@pytest.fixture
def sora_fake() -> Any:
    server = start_fake(OpenAIVideoFake())
    yield server
    server.stop()


def test_a_video_battle_delivers_two_mp4s_of_exactly_9_16_and_4_seconds(
    demo_arena: Any,
    voter: Any,
    run_on_commit: Any,
    sora_fake: Any,
    monkeypatch: Any,
    tmp_path: Path,
) -> None:
    """A demo contender that natively makes 16:9 MPEG-4 in Matroska at 12 fps for at most 3 s
    against a Sora-protocol contender (over real HTTP) that returns a 64×64, 8 fps, 1 s MP4:
    the voter gets two H.264 MP4s of the same 9:16 size, 24 fps and 4.0 s."""
    monkeypatch.setenv("ARENA_TEST_FAKE_KEY", "test-key")
    provider = Provider.objects.create(
        name="Video Cloud",
        kind="openai_video",
        base_url=sora_fake.base_url + "/v1",
        api_key_env="ARENA_TEST_FAKE_KEY",
        options=FAST_OPTIONS,
        timeout_s=30,
    )
    arena = Arena.objects.get(slug="text-to-video")
    Contender.objects.filter(arenas=arena).exclude(name="Demo Static Motion").update(enabled=False)
    Contender.objects.create(name="Remote Video", provider=provider, model_id="sora-2").arenas.add(
        arena
    )
    created = run_on_commit(
        voter.post,
        VIDEOS,
        {
            "prompt": "a red fox running through a snowy forest",
            "params": {"aspect_ratio": "9:16", "duration_s": 4},
        },
    )
    assert created.status_code == 201, created.content
    state = voter.get(f"/api/battles/{created.json()['id']}").json()
    assert state["status"] == "ready", (
        state,
        list(Output.objects.filter(battle_id=state["id"]).values("error_code", "error")),
    )
    forms = []
    for output in state["outputs"]:
        response = voter.get(output["url"])
        assert response["Content-Type"] == "video/mp4"
        probed = video_probe_bytes(b"".join(response.streaming_content), tmp_path)
        text, frames, info = probed.text, probed.frames, probed.info
        assert info.width * 16 == info.height * 9, text  # exactly 9:16
        assert info.duration_s == pytest.approx(4.0, abs=1 / 24), text
        assert abs(frames - 96) <= 1, text  # 4.0 s ± 1 frame at 24 fps
        assert "h264 (High)" in text and "yuv420p" in text
        forms.append((info.width, info.height, info.fps, frames))
        poster = voter.get(output["poster"])  # the first frame, in the battle's image form
        assert poster.status_code == 200 and poster["Content-Type"] == "image/webp"
        poster_bytes = b"".join(poster.streaming_content)
        with Image.open(io.BytesIO(poster_bytes)) as img:
            assert img.size == (486, 864)
        forms.append(len(poster_bytes))
    assert forms[0] == forms[2] == (486, 864, 24, 96)
    assert forms[1] == forms[3]  # both posters weigh the same: padded to one byte budget
    stranger = VoterClient().client.get(state["outputs"][0]["poster"])
    assert stranger.status_code == 404
    # each provider was asked for the battle's form and mapped it to what it supports
    by_name = {o.contender.name: o for o in Output.objects.filter(battle_id=state["id"])}
    demo, remote = by_name["Demo Static Motion"], by_name["Remote Video"]
    assert demo.params_used["received"]["width"] == 320  # natively 16:9, 3 s
    assert demo.params_mapped["duration_s"] == {"requested": 4.0, "used": 3.0}
    assert remote.params_used["received"]["width"] == 64
    assert remote.params_mapped["size"] == {"requested": "486x864", "used": "720x1280"}
    for output in by_name.values():
        assert output.params_used["battle_params"] == {
            "aspect_ratio": "9:16",
            "resolution": "480p",
            "duration_s": 4,
        }
        assert output.params_used["delivered"] == {
            "width": 486,
            "height": 864,
            "aspect_ratio": "9:16",
            "fps": 24,
            "duration_s": 4.0,
        }


def test_a_player_can_seek_an_output_with_byte_ranges(
    demo_arena: Any, voter: Any, run_on_commit: Any
) -> None:
    """Chromium seeks in a video only over `206 Partial Content`; a bad range is a 416."""
    Contender.objects.filter(name__in=["Demo Aurora Motion", "Demo Mosaic Motion"]).update(
        enabled=False
    )
    created = run_on_commit(
        voter.post, VIDEOS, {"prompt": "a fox", "params": {"aspect_ratio": "1:1"}}
    )
    url = voter.get(f"/api/battles/{created.json()['id']}").json()["outputs"][0]["url"]
    whole = voter.get(url)
    data = b"".join(whole.streaming_content)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    part = voter.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert part["Content-Type"] == "video/mp4" and "sandbox" in part["Content-Security-Policy"]
    tail = voter.client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    open_end = voter.client.get(url, headers={"Range": f"bytes={len(data) - 5}-"})
    assert open_end.content == data[-5:]
    refused = voter.client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert refused.status_code == 416 and refused["Content-Range"] == f"bytes */{len(data)}"
    several = voter.client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200
    stranger = VoterClient().client.get(url, headers={"Range": "bytes=0-9"})
    assert stranger.status_code == 404  # a range does not open another voter's file
