"""Image-editing arenas (issue 11): private uploads validated like hostile files, battles
that edit the voter's own upload, identical input bytes on both sides (else the vote is
void), and the demo editor's real operations."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from arena.battles.models import Battle, Output, SourceImage
from arena.votes.models import InvalidReason, Vote
from generators.base import GenerationRequest, ProviderConfig
from generators.demo import DemoGenerator
from generators.demo_edit import edit_operations
from tests.arena.test_hostile_files import bomb_png

EDITS = "/api/arenas/image-editing/battles"


def png(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (80, 40), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = 6  # orientation: rotate 90 on display
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(voter: Any, data: bytes, name: str = "photo.png", field: str = "image") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return voter.client.post(
        "/api/uploads",
        {field: SimpleUploadedFile(name, data)},
        headers=voter._headers(None),
    )


def test_an_upload_is_stored_stripped_and_private(
    demo_arena: Any, voter: Any, make_voter: Any
) -> None:
    response = upload(voter, jpeg_with_exif(), "photo.jpg")
    assert response.status_code == 201, response.content
    body = response.json()
    stored = SourceImage.objects.get(pk=body["id"])
    assert (body["width"], body["height"]) == (40, 80)  # EXIF orientation applied
    served = voter.get(body["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert "private" in served["Cache-Control"] and "Cookie" in served["Vary"]
    data = b"".join(served.streaming_content)
    assert b"SecretCam" not in data and b"Exif" not in data
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG" and img.size == (40, 80) and not img.info.get("exif")
    assert stored.received["format"] == "JPEG"
    assert make_voter().get(body["url"]).status_code == 404  # another voter: missing
    assert Client().get(body["url"]).status_code == 404  # no session at all


def _truncated_png() -> bytes:
    data = png(300, 300)
    return data[: len(data) // 2]


def _pixel_bomb() -> bytes:
    """A few-KB PNG whose header declares 6000×6000 pixels (over the upload budget)."""
    return bomb_png(6000, 6000)


def _bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="BMP")
    return out.getvalue()


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"%PDF-1.4 not an image at all", "not an image this arena accepts"),
        (_bmp(), "not an image this arena accepts"),
        (_gif(), "GIF images are not accepted"),
        (_truncated_png(), "truncated or corrupt"),
        (_pixel_bomb(), "too many pixels"),
        (png(8, 8), "at least 16 px"),
        (b"", "empty"),
    ],
)
def test_bad_uploads_get_a_400_saying_what_is_wrong(
    demo_arena: Any, voter: Any, data: bytes, words: str
) -> None:
    response = upload(voter, data)
    assert response.status_code == 400, response.content
    assert words in response.json()["error"]["message"]
    assert not SourceImage.objects.exists()


def test_an_upload_over_the_byte_limit_is_refused_before_decoding(
    demo_arena: Any, voter: Any, settings: Any
) -> None:
    settings.ARENA_UPLOAD_MAX_BYTES = 1000
    response = upload(voter, png(400, 400, (1, 2, 3)) + b"\x00" * 2000)
    assert response.status_code == 400
    assert "the limit is 1,000 bytes" in response.json()["error"]["message"]


def test_uploads_need_multipart_one_image_field_and_csrf(demo_arena: Any, voter: Any) -> None:
    as_json = voter.post("/api/uploads", {"image": "x"})
    assert as_json.status_code == 415
    assert "multipart/form-data" in as_json.json()["error"]["message"]
    wrong_field = upload(voter, png(), field="picture")
    assert wrong_field.status_code == 400 and "'picture'" in wrong_field.json()["error"]["message"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    no_token = voter.client.post("/api/uploads", {"image": SimpleUploadedFile("a.png", png())})
    assert no_token.status_code == 403


def test_uploads_are_rate_limited_like_battles(demo_arena: Any, voter: Any, settings: Any) -> None:
    settings.ARENA_RATE_BATTLES_PER_VOTER = 2
    assert upload(voter, png()).status_code == 201
    assert upload(voter, png()).status_code == 201
    third = upload(voter, png())
    assert third.status_code == 429 and third["Retry-After"]


def test_an_editing_battle_edits_the_voters_own_upload_on_both_sides(
    demo_arena: Any, voter: Any, make_voter: Any, run_on_commit: Any
) -> None:
    source = upload(voter, png(96, 64)).json()["id"]
    no_image = voter.post(EDITS, {"prompt": "make it blue"})
    assert (
        no_image.status_code == 400 and "POST /api/uploads" in no_image.json()["error"]["message"]
    )
    stranger = make_voter()
    theirs = stranger.post(EDITS, {"prompt": "make it blue", "source_image": source})
    assert (
        theirs.status_code == 400 and "not one of your uploads" in theirs.json()["error"]["message"]
    )
    elsewhere = voter.post(
        "/api/arenas/text-to-image/battles", {"prompt": "a fox", "source_image": source}
    )
    assert (
        elsewhere.status_code == 400
        and "only accepted by image-editing" in elsewhere.json()["error"]["message"]
    )
    created = run_on_commit(
        voter.post, EDITS, {"prompt": "make it blue and mirror it", "source_image": source}
    )
    assert created.status_code == 201, created.content
    battle = Battle.objects.get(pk=created.json()["id"])
    assert battle.status == "ready", battle.failure_reason
    outputs = list(battle.outputs.all())
    stored = SourceImage.objects.get(pk=source)
    assert {o.input_sha256 for o in outputs} == {stored.sha256}
    sizes = set()
    for output in outputs:
        data = b"".join(voter.get(f"/o/{output.token}").streaming_content)
        sizes.add(len(data))
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "WEBP" and img.size == (output.width, output.height)
            assert img.width * 2 == img.height * 3  # the source's 3:2 shape
    assert len(sizes) == 1  # one form per battle: same byte length too
    vote = voter.post(f"/api/battles/{battle.pk}/vote", {"choice": "left"})
    assert vote.status_code == 200 and vote.json()["counted"] is True


def test_a_vote_is_void_when_the_sides_got_different_input_bytes(
    demo_arena: Any, voter: Any, run_on_commit: Any
) -> None:
    source = upload(voter, png()).json()["id"]
    created = run_on_commit(voter.post, EDITS, {"prompt": "blur it", "source_image": source})
    battle_id = created.json()["id"]
    Output.objects.filter(battle_id=battle_id, side="right").update(input_sha256="0" * 64)
    vote = voter.post(f"/api/battles/{battle_id}/vote", {"choice": "left"})
    assert vote.status_code == 200
    assert vote.json()["counted"] is False
    assert "same source image" in vote.json()["not_counted_reason"]
    assert Vote.objects.get().invalid_reason == InvalidReason.INPUT_MISMATCH


def _demo(style: str, prompt: str, source: bytes) -> Image.Image:
    result = DemoGenerator(ProviderConfig(kind="demo", options={"style": style})).generate(
        GenerationRequest(prompt=prompt, source_image=source)
    )
    return Image.open(io.BytesIO(result.data)).convert("RGB")


def test_the_demo_editor_follows_the_instruction() -> None:
    half = Image.new("RGB", (40, 20), (250, 250, 250))
    half.paste((200, 20, 20), (0, 0, 20, 20))  # red left half, white right half
    buffer = io.BytesIO()
    half.save(buffer, format="PNG")
    source = buffer.getvalue()
    mirrored = _demo("aurora", "mirror it", source)
    assert mirrored.getpixel((35, 10))[0] > 150 and mirrored.getpixel((35, 10))[1] < 60
    rotated = _demo("aurora", "rotate it", source)
    assert rotated.size == (20, 40)
    grey = _demo("aurora", "make it black and white", source)
    r, g, b = grey.getpixel((5, 5))
    assert r == g == b
    blue = _demo("aurora", "make it blue", source)
    r, g, b = blue.getpixel((30, 10))
    assert b > r and b > g
    darker = _demo("aurora", "darker please", source)
    assert sum(darker.getpixel((30, 10))) < sum(half.getpixel((30, 10)))
    ignored = _demo("noise", "mirror it", source)  # the worst style ignores the instruction
    assert ignored.getpixel((35, 10))[0] > 150 and ignored.getpixel((35, 10))[1] > 150
    assert [name for name, _ in edit_operations("blur then rotate, in red")] == [
        "blur",
        "rotate",
        "red",
    ]


def test_the_admin_refuses_a_provider_without_an_edit_endpoint_in_an_editing_arena(
    demo_arena: Any, admin_client: Any
) -> None:
    from arena.battles.models import Arena, Contender, Provider

    editing = Arena.objects.get(slug="image-editing")
    stability = Provider.objects.create(
        name="Stability", kind="stability", base_url="https://api.stability.ai"
    )
    form = {
        "name": "Stable Image",
        "organization": "Stability AI",
        "provider": stability.pk,
        "model_id": "core",
        "parameters": "{}",
        "arenas": [editing.pk],
        "enabled": "on",
        "sampling_weight": "1",
        "license": "",
        "link": "",
    }
    refused = admin_client.post("/admin/battles/contender/add/", form)
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "has no image-edit endpoint" in page and "OpenAI Images" in page
    assert not Contender.objects.filter(name="Stable Image").exists()
    demo = Provider.objects.get(kind="demo")
    form.update(name="Demo Editor", provider=demo.pk, parameters='{"style": "aurora"}')
    form["arenas"] = [editing.pk]
    assert admin_client.post("/admin/battles/contender/add/", form).status_code == 302


def test_test_generate_of_an_editing_only_contender_edits_a_sample_picture(
    demo_arena: Any,
) -> None:
    from arena.battles.generation import contender_test_generate
    from arena.battles.models import Arena, Contender

    contender = Contender.objects.get(name="Demo Aurora")
    contender.arenas.set([Arena.objects.get(slug="image-editing")])
    check, image, _, _ = contender_test_generate(contender=contender, prompt="mirror it")
    assert check.ok, check.error
    assert image.startswith(b"RIFF") and check.params_used["operations"] == ["mirror"]


def test_a_random_instruction_comes_from_the_editing_bank(
    demo_arena: Any, voter: Any, run_on_commit: Any
) -> None:
    from arena.battles.bank import bank_read

    source = upload(voter, png()).json()["id"]
    created = run_on_commit(voter.post, EDITS, {"random_prompt": True, "source_image": source})
    assert created.status_code == 201, created.content
    battle = Battle.objects.get(pk=created.json()["id"])
    assert battle.prompt.text in {p.text for p in bank_read("image_edit")}
    assert battle.prompt.modality == "image_edit" and battle.status == "ready"


def test_a_model_without_an_edit_endpoint_is_never_drawn_for_an_edit(
    demo_arena: Any, voter: Any, run_on_commit: Any
) -> None:
    from arena.battles.models import Arena, Contender, Provider

    editing = Arena.objects.get(slug="image-editing")
    stability = Provider.objects.create(name="Stability", kind="stability")
    # added around the admin's check (a shell, a fixture): heavily weighted, still never drawn
    outsider = Contender.objects.create(name="Outsider", provider=stability, sampling_weight=50)
    outsider.arenas.add(editing)
    source = upload(voter, png()).json()["id"]
    for k in range(6):
        created = run_on_commit(
            voter.post, EDITS, {"prompt": f"blur it {k}", "source_image": source}
        )
        battle = Battle.objects.get(pk=created.json()["id"])
        assert "Outsider" not in {battle.left.name, battle.right.name}
        assert battle.status == "ready"


def test_an_editing_battle_with_a_foundry_mai_contender_sends_it_the_same_bytes(
    demo_arena: Any, voter: Any, run_on_commit: Any, monkeypatch: Any
) -> None:
    """An MAI contender (multipart /mai/v1/images/edits with the api-key header, over real HTTP
    to the fake) against a demo editor: both sides get the upload's exact bytes."""
    from arena.battles.models import Arena, Contender, Provider
    from arena.battles.uploads import source_image_bytes
    from tests.fakes import OpenAIImagesFake, start_fake
    from tests.fakes.testing import FAST_OPTIONS

    fake = OpenAIImagesFake(mai=True)
    server = start_fake(fake)
    try:
        monkeypatch.setenv("ARENA_TEST_MAI_KEY", "test-key")
        provider = Provider.objects.create(
            name="Foundry",
            kind="mai_image",
            base_url=server.base_url,
            api_key_env="ARENA_TEST_MAI_KEY",
            options=FAST_OPTIONS,
            timeout_s=10,
        )
        editing = Arena.objects.get(slug="image-editing")
        Contender.objects.filter(arenas=editing).exclude(name="Demo Aurora").update(enabled=False)
        Contender.objects.create(
            name="MAI Image", provider=provider, model_id="MAI-Image-2.5"
        ).arenas.add(editing)
        source = upload(voter, png(96, 64)).json()["id"]
        created = run_on_commit(
            voter.post, EDITS, {"prompt": "make it blue", "source_image": source}
        )
        assert created.status_code == 201, created.content
        battle = Battle.objects.get(pk=created.json()["id"])
        assert battle.status == "ready", battle.failure_reason
        assert {battle.left.name, battle.right.name} == {"MAI Image", "Demo Aurora"}
        stored = SourceImage.objects.get(pk=source)
        assert fake.edit_images == [source_image_bytes(stored)]
        assert {o.input_sha256 for o in battle.outputs.all()} == {stored.sha256}
        edit = fake.requests[-1]
        assert edit.path == "/mai/v1/images/edits" and edit.header("api-key") == "test-key"
        assert edit.form()["model"] == "MAI-Image-2.5" and edit.form()["prompt"] == "make it blue"
    finally:
        server.stop()


def test_the_sweep_deletes_old_uploads_nothing_uses_with_their_files(
    demo_arena: Any, voter: Any, run_on_commit: Any, settings: Any
) -> None:
    """The periodic sweep (the beat's task, also run by the embedded sweeper) deletes an
    upload older than ARENA_UPLOAD_MAX_AGE_S that no battle or playground generation uses."""
    from datetime import timedelta

    from django.core.files.storage import default_storage
    from django.utils import timezone

    from arena.battles.models import Contender
    from arena.battles.tasks import battles_fail_stale_task
    from arena.playground.models import Generation

    settings.ARENA_UPLOAD_MAX_AGE_S = 3600
    unused, in_battle, in_generation, recent = (upload(voter, png()).json()["id"] for _ in range(4))
    run_on_commit(voter.post, EDITS, {"prompt": "blur it", "source_image": in_battle})
    editor = Contender.objects.filter(arenas__slug="image-editing", enabled=True).first()
    created = voter.post(
        "/api/arenas/image-editing/generations",
        {"model": editor.pk, "prompt": "blur it", "source_image": in_generation},
    )
    assert created.status_code == 201, created.content
    old = timezone.now() - timedelta(hours=2)
    SourceImage.objects.exclude(pk=recent).update(created_at=old)
    files = dict(SourceImage.objects.values_list("pk", "file"))
    assert all(default_storage.exists(name) for name in files.values())

    counts = run_on_commit(battles_fail_stale_task)
    assert counts["uploads_deleted"] == 1
    assert set(SourceImage.objects.values_list("pk", flat=True)) == {
        in_battle,
        in_generation,
        recent,
    }
    assert not default_storage.exists(files[unused])
    assert all(default_storage.exists(files[pk]) for pk in (in_battle, in_generation, recent))
    assert voter.get(f"/u/{unused}").status_code == 404
    # once its generation is gone, the old upload goes at the next sweep
    Generation.objects.all().delete()
    assert run_on_commit(battles_fail_stale_task)["uploads_deleted"] == 1
    assert not default_storage.exists(files[in_generation])
    assert Battle.objects.filter(source_image_id=in_battle).exists()
