"""In-house video servers (generic_http) in a video arena, and the admin's "Test generate" for
video and images (issue 11): voters get two normalised MP4s of the battle's one form, and an
operator's test shows the clip with the form requested, what the server was sent and mapped,
what it returned and what voters would get, so no size change is silent."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from PIL import Image

from arena.battles.media_video import parse_ffmpeg_banner
from arena.battles.models import Arena, Contender, Output, Provider, ProviderCheck
from tests.fakes import FakeProviderServer, GenericFake, OpenAIImagesFake, start_fake
from tests.fakes.testing import FAST_OPTIONS
from tests.media_probe import video_probe_bytes

VIDEOS = "/api/arenas/text-to-video/battles"
IN_HOUSE = {
    **FAST_OPTIONS,
    "path": "/video",
    "auth_header": "X-Api-Key",
    "auth_prefix": "",
}


@pytest.fixture
def staff(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.org", "pw"))
    return client


@pytest.fixture
def servers() -> Iterator[list[FakeProviderServer]]:
    """Two in-house video servers: one answers the clip itself, one a URL to it."""
    raw, linked = GenericFake(api_key=None), GenericFake(api_key=None)
    raw.outcome = "raw"
    started = [start_fake(raw), start_fake(linked)]
    yield started
    for server in started:
        server.stop()


def in_house(name: str, server: FakeProviderServer, arena: Arena, **options: Any) -> Contender:
    provider = Provider.objects.create(
        name=f"{name} server",
        kind="generic_http",
        base_url=server.base_url,
        options={**IN_HOUSE, **options},
        timeout_s=30,
    )
    contender = Contender.objects.create(name=name, provider=provider, model_id=name.lower())
    contender.arenas.add(arena)
    return contender


def test_a_video_battle_between_two_in_house_servers_delivers_one_form(
    demo_arena: Any,
    voter: Any,
    run_on_commit: Any,
    servers: list[FakeProviderServer],
    tmp_path: Path,
) -> None:
    """Both servers return a 64×64, 8 fps, 1 s clip (raw, and behind a URL); the voter gets two
    H.264 MP4s of exactly 9:16, 24 fps, 4.0 s, and each output records what was sent."""
    arena = Arena.objects.get(slug="text-to-video")
    Contender.objects.filter(arenas=arena).update(enabled=False)
    in_house("Raw Clips", servers[0], arena, durations=[5])
    in_house("Linked Clips", servers[1], arena, response_path="output.url")
    created = run_on_commit(
        voter.post,
        VIDEOS,
        {"prompt": "a red fox running", "params": {"aspect_ratio": "9:16", "duration_s": 4}},
    )
    assert created.status_code == 201, created.content
    state = voter.get(f"/api/battles/{created.json()['id']}").json()
    assert state["status"] == "ready", list(
        Output.objects.filter(battle_id=state["id"]).values("error_code", "error")
    )
    for output in state["outputs"]:
        response = voter.get(output["url"])
        assert response["Content-Type"] == "video/mp4"
        probed = video_probe_bytes(b"".join(response.streaming_content), tmp_path)
        text, frames = probed.text, probed.frames
        info = parse_ffmpeg_banner(text)
        assert (info.width, info.height, info.fps, info.codec) == (486, 864, 24, "h264"), text
        assert abs(frames - 96) <= 1, text
        assert voter.get(output["poster"])["Content-Type"] == "image/webp"
    by_name = {o.contender.name: o for o in Output.objects.filter(battle_id=state["id"])}
    raw, linked = by_name["Raw Clips"], by_name["Linked Clips"]
    for output in (raw, linked):
        assert output.params_used["received"] == {
            "width": 64,
            "height": 64,
            "fps": 8.0,
            "duration_s": 1.0,
            "codec": "h264",
        }
        assert output.params_mapped["size"] == {"requested": "486x864", "used": "488x864"}
        assert output.params_used["sent"]["fps"] == 24
    assert raw.params_used["sent"]["duration_s"] == 5  # the server makes 5 s clips only
    assert raw.params_mapped["duration_s"] == {"requested": 4.0, "used": 5}
    assert linked.params_used["sent"]["duration_s"] == 4.0
    assert "duration_s" not in linked.params_mapped
    sent = [r.json() for s in servers for r in s.fake.of_route("submit")]
    assert [(b["width"], b["height"], b["fps"]) for b in sent] == [(488, 864, 24)] * 2


def data_url(html: str, kind: str) -> bytes:
    found = re.search(rf'(?:src|poster)="data:{kind};base64,([A-Za-z0-9+/=]+)"', html)
    assert found, f"no data:{kind} in the page"
    return base64.b64decode(found.group(1))


def test_test_generate_of_a_video_contender_previews_the_clip_and_the_mapping(
    staff: Client, demo_arena: Any, servers: list[FakeProviderServer], tmp_path: Path
) -> None:
    arena = Arena.objects.get(slug="text-to-video")  # default form: 16:9, 480p, 4 s
    contender = in_house("Linked Clips", servers[1], arena, response_path="output.url")
    url = f"/admin/battles/contender/{contender.pk}/test-generate/"
    page = staff.post(url, {"prompt": "a red fox", "width": "", "height": "", "seed": 3})
    html = page.content.decode()
    assert "Success" in html, html[-3000:]
    assert '<video id="test-preview" controls muted' in html
    probed = video_probe_bytes(data_url(html, "video/mp4"), tmp_path)
    text, frames = probed.text, probed.frames
    info = parse_ffmpeg_banner(text)
    assert (info.width, info.height, info.fps) == (864, 486, 24) and abs(frames - 96) <= 1
    with Image.open(io.BytesIO(data_url(html, "image/webp"))) as poster:
        assert poster.size == (864, 486)
    rows = dict(re.findall(r'<th scope="row">(.*?)</th><td><code>(.*?)</code>', html))
    assert rows["Requested"] == "864×486 (16:9), 4 s, 24 fps"
    assert rows["Mapped"] == "size: 864x486 → 864x488"
    assert "width=864, height=488" in rows["Sent"] and "duration_s=4.0, fps=24" in rows["Sent"]
    assert rows["Received"] == "64×64, 1 s, 8 fps, h264"
    assert rows["Delivered"] == "864×486, 4 s, 24 fps"
    (sent,) = servers[1].fake.of_route("submit")
    assert (sent.json()["width"], sent.json()["duration_s"]) == (864, 4.0)
    check = ProviderCheck.objects.get()
    assert check.ok and check.params_used["arena"] == "text-to-video"
    assert check.params_used["modality"] == "video"
    assert check.params_used["requested"] == {
        "width": 864,
        "height": 486,
        "aspect_ratio": "16:9",
        "duration_s": 4.0,
        "fps": 24,
    }
    assert check.params_used["mapped"]["size"] == {"requested": "864x486", "used": "864x488"}
    assert check.params_used["received"]["codec"] == "h264"
    # a stranger never sees it: the preview lives only in the staff-only page
    assert Client().post(url, {"prompt": "a red fox", "seed": 3}).status_code == 302


def test_test_generate_of_a_video_contender_that_sends_an_image_fails_in_words(
    staff: Client, demo_arena: Any, servers: list[FakeProviderServer]
) -> None:
    arena = Arena.objects.get(slug="text-to-video")
    servers[1].fake.outcome = "wrong_type"
    contender = in_house("Confused", servers[1], arena)
    page = staff.post(
        f"/admin/battles/contender/{contender.pk}/test-generate/", {"prompt": "a fox", "seed": 0}
    ).content.decode()
    assert "Failed: provider_error" in page and "<video" not in page
    assert "Content-Type &#x27;image/png&#x27;; expected the clip" in page
    check = ProviderCheck.objects.get()
    assert check.params_used["requested"]["duration_s"] == 4.0


def test_test_generate_of_an_image_shows_requested_mapped_and_received_sizes(
    staff: Client, demo_arena: Any, monkeypatch: Any
) -> None:
    fake = OpenAIImagesFake()
    server = start_fake(fake)
    try:
        monkeypatch.setenv("ARENA_TEST_OPENAI_KEY", "test-key")
        provider = Provider.objects.create(
            name="Fake OpenAI",
            kind="openai_images",
            base_url=server.base_url + "/v1",
            api_key_env="ARENA_TEST_OPENAI_KEY",
        )
        contender = Contender.objects.create(
            name="gpt-image-1", provider=provider, model_id="gpt-image-1"
        )
        page = staff.post(
            f"/admin/battles/contender/{contender.pk}/test-generate/",
            {"prompt": "a red fox", "width": 1000, "height": 700, "seed": 0},
        ).content.decode()
    finally:
        server.stop()
    assert '<img id="test-preview"' in page
    rows = dict(re.findall(r'<th scope="row">(.*?)</th><td><code>(.*?)</code>', page))
    assert rows["Requested"] == "1000×700 (10:7)"
    assert "size: 1000x700 → 1536x1024" in rows["Mapped"]
    assert rows["Received"] == "1536×1024, PNG"
    assert rows["Delivered"] == "1000×700"
    with Image.open(io.BytesIO(data_url(page, "image/webp"))) as img:
        assert img.size == (1000, 700)
    assert ProviderCheck.objects.get().params_used["received"]["width"] == 1536


def test_the_contender_form_takes_an_in_house_server_into_a_video_arena_not_an_image_api(
    staff: Client, demo_arena: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ARENA_TEST_OPENAI_KEY", "sk-test")
    arena = Arena.objects.get(slug="text-to-video")
    images = Provider.objects.create(
        name="OpenAI", kind="openai_images", api_key_env="ARENA_TEST_OPENAI_KEY"
    )
    in_house_server = Provider.objects.create(
        name="Studio", kind="generic_http", base_url="http://10.0.0.5:8000"
    )
    form = {
        "name": "Clips",
        "organization": "",
        "provider": images.pk,
        "model_id": "gpt-image-1",
        "parameters": "{}",
        "arenas": [arena.pk],
        "enabled": "on",
        "sampling_weight": "1",
        "license": "",
        "link": "",
    }
    refused = staff.post("/admin/battles/contender/add/", form).content.decode()
    assert "OpenAI Images makes image only, so it cannot play in Text to Video (video)" in refused
    assert not Contender.objects.filter(name="Clips").exists()
    form.update(provider=in_house_server.pk, model_id="clips-v1")
    assert staff.post("/admin/battles/contender/add/", form).status_code == 302
    assert Contender.objects.get(name="Clips").arenas.get() == arena
