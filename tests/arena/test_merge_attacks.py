"""Attacks on what the video / image-edit / playground merge added: the upload sweep racing a
battle or generation being created, file names the sweep must never follow out of the
uploads folder, a hostile provider's words in the admin's Test generate page, and a provider's
"video" that is really a playlist or a redirect into the network."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from arena.battles import services as battle_services
from arena.battles.errors import InvalidInput
from arena.battles.models import Battle, Contender, SourceImage
from arena.battles.uploads import upload_store, uploads_delete_unused
from arena.playground import services as playground_services
from arena.playground.models import Generation
from tests.arena.test_image_edit import png

EDIT_ARENA = "image-editing"


def _later() -> Any:
    """A sweep's clock far enough ahead that every upload made now counts as old."""
    return timezone.now() + timedelta(days=30)


def _sweep_before(module: Any, monkeypatch: Any) -> None:
    """Run the upload sweep at the moment `module` moderates the prompt: after the source
    image was checked, before the battle or generation row is written."""
    original = module.prompt_moderate

    def moderate_then_sweep(text: str) -> None:
        original(text)
        assert uploads_delete_unused(now=_later()) == 1

    monkeypatch.setattr(module, "prompt_moderate", moderate_then_sweep)


# ------------------------------------------------ the sweep against a creation in flight
@pytest.mark.django_db(transaction=True)
def test_a_battle_whose_upload_the_sweep_just_deleted_is_a_clear_400(
    demo_arena: Any, monkeypatch: Any
) -> None:
    """Not an IntegrityError at commit (a 500) nor a battle pointing at a deleted file."""
    monkeypatch.setattr(battle_services, "_enqueue_or_fail", lambda *a, **k: None)
    upload = upload_store(raw=png(), voter_id="voter-a")
    _sweep_before(battle_services, monkeypatch)
    with pytest.raises(InvalidInput, match="not one of your uploads"):
        battle_services.battle_create(
            arena_slug=EDIT_ARENA,
            voter_id="voter-a",
            prompt_text="blur it",
            source_image=upload.pk,
        )
    assert not Battle.objects.exists()
    assert not SourceImage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_generation_whose_upload_the_sweep_just_deleted_is_a_clear_400(
    demo_arena: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(playground_services, "_enqueue_or_fail", lambda *a, **k: None)
    upload = upload_store(raw=png(), voter_id="voter-a")
    editor = Contender.objects.filter(arenas__slug=EDIT_ARENA, enabled=True).first()
    assert editor is not None
    _sweep_before(playground_services, monkeypatch)
    with pytest.raises(InvalidInput, match="not one of your uploads"):
        playground_services.generation_create(
            arena_slug=EDIT_ARENA,
            voter_id="voter-a",
            model=editor.pk,
            prompt_text="blur it",
            source_image=upload.pk,
        )
    assert not Generation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_sweep_waits_for_a_battle_being_created_and_keeps_its_upload(
    demo_arena: Any, monkeypatch: Any
) -> None:
    """The battle's row is written but not committed when the sweep looks: the sweep must
    not delete the upload under it (the battle's commit would then fail)."""
    monkeypatch.setattr(battle_services, "_enqueue_or_fail", lambda *a, **k: None)
    upload = upload_store(raw=png(), voter_id="voter-a")
    inserted, go = threading.Event(), threading.Event()
    original = Battle.contender_on

    def pause_inside_the_transaction(self: Battle, side: str) -> Contender:
        inserted.set()
        go.wait(10)
        return original(self, side)

    monkeypatch.setattr(Battle, "contender_on", pause_inside_the_transaction)
    outcome: dict[str, Any] = {}

    def create() -> None:
        try:
            outcome["battle"] = battle_services.battle_create(
                arena_slug=EDIT_ARENA,
                voter_id="voter-a",
                prompt_text="blur it",
                source_image=upload.pk,
            )
        except Exception as exc:  # noqa: BLE001 - the test reports what the creator got
            outcome["error"] = exc
        finally:
            connection.close()

    def sweep() -> None:
        try:
            outcome["deleted"] = uploads_delete_unused(now=_later())
        finally:
            connection.close()

    creator = threading.Thread(target=create)
    creator.start()
    assert inserted.wait(10)
    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    sweeper.join(1.5)  # a sweep that does not wait for the creation is done by now
    go.set()
    creator.join(20)
    sweeper.join(20)
    assert "error" not in outcome, outcome
    assert outcome["deleted"] == 0
    assert SourceImage.objects.filter(pk=upload.pk).exists()
    assert Battle.objects.get().source_image_id == upload.pk


# ------------------------------------------------ file names the sweep must not follow
@pytest.mark.parametrize(
    "name",
    ["../outside.txt", "/ABSOLUTE/outside.txt", "outputs/victim.webp", "uploads/../outputs/x"],
)
def test_the_sweep_deletes_only_files_in_the_uploads_folder(
    db: None, settings: Any, tmp_path: Path, name: str, django_capture_on_commit_callbacks: Any
) -> None:
    """A stored file name (a restored backup, an admin's slip, a row written by hand) that
    points outside uploads/ costs the row only: the file it names stays, and the sweep goes
    on with the next upload."""
    media = Path(settings.MEDIA_ROOT)
    (media / "outputs").mkdir(parents=True, exist_ok=True)
    victims = [tmp_path / "outside.txt", media / "outputs" / "victim.webp", media / "outputs/x"]
    for victim in victims:
        victim.write_text("keep me")
    name = name.replace("/ABSOLUTE", str(tmp_path))
    innocent = upload_store(raw=png(), voter_id="voter-b")
    hostile = upload_store(raw=png(), voter_id="voter-a")  # newer: swept first
    innocent_file = media / str(innocent.file.name)
    SourceImage.objects.filter(pk=hostile.pk).update(file=name)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = uploads_delete_unused(now=_later())
    assert deleted == 2
    assert all(victim.read_text() == "keep me" for victim in victims)
    assert not innocent_file.exists()


# ------------------------------------------------ a "video" that makes ffmpeg read elsewhere
PLAYLISTS = {
    "hls": (
        "clip.m3u8",
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{secret}\n#EXT-X-ENDLIST\n",
    ),
    "concat": ("clip.ffconcat", "ffconcat version 1.0\nfile '{name}'\n"),
}


@pytest.mark.parametrize("kind", sorted(PLAYLISTS))
def test_a_playlist_naming_a_server_file_is_refused_and_reads_nothing(
    tmp_path: Path, kind: str
) -> None:
    """An HLS playlist or a concat script whose segment is a file on the server: with only
    the file protocol allowed, ffmpeg's HLS and concat demuxers would still read it and hand
    its pixels back as the provider's video. Two walls: the provider's bytes are written
    under a name without an extension (ffmpeg does not sniff HLS then), and only the MP4/MOV
    and Matroska/WebM demuxers may open input at all (checked here on a file that has the
    playlist's own extension, as if the first wall fell)."""
    from arena.battles.media import MediaError
    from arena.battles.media_video import VideoLimits, video_normalise, video_probe
    from tests.arena.test_hostile_files import TARGET, make_video

    make_video(tmp_path, "secret.mp4", "-f", "lavfi", "-i", "color=c=red:s=64x64:r=8", "-t", "1")
    name, text = PLAYLISTS[kind]
    script = text.format(secret=tmp_path / "secret.mp4", name="secret.mp4")
    (tmp_path / name).write_text(script)
    with pytest.raises(MediaError, match="not an MP4/MOV or WebM/Matroska video"):
        video_probe(tmp_path / name, limits=VideoLimits())
    with pytest.raises(MediaError, match="not an MP4/MOV or WebM/Matroska video"):
        video_normalise(script.encode(), target=TARGET)


# ------------------------------------------------ a hostile provider's words in the admin
XSS = "<script>alert('provider')</script><img src=x onerror=alert(1)>"


@pytest.fixture
def staff(db: None) -> Any:
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.org", "pw"))
    return client


@pytest.mark.parametrize("outcome", ["error", "revised_prompt"])
def test_test_generate_shows_a_hostile_providers_text_as_text(
    staff: Any, demo_arena: Any, monkeypatch: Any, outcome: str
) -> None:
    """An error message and a value the provider reports (OpenAI's revised_prompt, shown in
    "Provider used" and "Everything recorded") reach the staff page escaped."""
    from arena.battles.models import Provider
    from tests.fakes import OpenAIImagesFake, start_fake

    fake = OpenAIImagesFake()
    if outcome == "error":
        fake.fail_next(400, message=XSS)
    server = start_fake(fake)
    try:
        monkeypatch.setenv("ARENA_TEST_OPENAI_KEY", "test-key")
        provider = Provider.objects.create(
            name="Hostile",
            kind="openai_images",
            base_url=server.base_url + "/v1",
            api_key_env="ARENA_TEST_OPENAI_KEY",
            options={"max_retries": 0},
        )
        contender = Contender.objects.create(name="h", provider=provider, model_id="dall-e-3")
        page = staff.post(
            f"/admin/battles/contender/{contender.pk}/test-generate/",
            {"prompt": XSS, "seed": 0},
        ).content.decode()
    finally:
        server.stop()
    assert ("Failed:" in page) == (outcome == "error"), page[-2000:]
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(" in page
    if outcome == "revised_prompt":
        assert "revised_prompt=revised: &lt;script&gt;" in page


def test_an_upload_swept_while_it_is_being_served_is_a_404_not_a_500(voter: Any) -> None:
    """The sweep deletes the row, then the file: a request that read the row just before
    finds no file (the same 404 as a missing upload, no traceback)."""
    from django.core.files.storage import default_storage

    from tests.arena.test_image_edit import upload

    made = upload(voter, png()).json()
    assert voter.get(made["url"]).status_code == 200
    default_storage.delete(SourceImage.objects.get(pk=made["id"]).file.name)
    voter.client.raise_request_exception = False
    assert voter.get(made["url"]).status_code == 404


# ------------------------------------------------ a result far over the arena's own limit
def test_a_result_over_the_output_limit_is_cut_while_downloading(
    demo_arena: Any, settings: Any
) -> None:
    """The arena refuses any output over ARENA_OUTPUT_MAX_BYTES; a provider's download (a
    video URL may be 500 MB by the generators' own default) stops at that limit instead of
    being held whole in a worker's memory first."""
    from arena.battles.generation import contender_test_generate, provider_config
    from arena.battles.models import Arena, Provider
    from tests.fakes import GenericFake, start_fake

    settings.ARENA_OUTPUT_MAX_BYTES = 50_000
    fake = GenericFake(api_key=None)
    server = start_fake(fake)
    try:
        fake.video_url = fake.add_file(b"\0\0\0\x18ftypisom" + b"\0" * 400_000, "video/mp4")
        provider = Provider.objects.create(
            name="Huge",
            kind="generic_http",
            base_url=server.base_url,
            options={"path": "/video", "response_path": "output.url", "max_retries": 0},
        )
        contender = Contender.objects.create(name="huge", provider=provider, model_id="h")
        contender.arenas.add(Arena.objects.get(slug="text-to-video"))
        assert provider_config(contender).options["max_bytes"] == 50_000
        check = contender_test_generate(contender=contender, prompt="waves").check
    finally:
        server.stop()
    assert not check.ok
    assert "over the 50000 limit" in check.error or "exceeded the 50000 byte" in check.error
    # an operator's smaller limit stays; a larger one cannot lift the arena's
    provider.options["max_bytes"] = 1000
    provider.save()
    assert provider_config(contender).options["max_bytes"] == 1000
    provider.options["max_bytes"] = 10**9
    provider.save()
    assert provider_config(contender).options["max_bytes"] == 50_000
