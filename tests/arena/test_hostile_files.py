"""Hostile files from a provider (issue 9, attack 5): refused from their header, before any
pixel is allocated, with a message an operator can act on."""

from __future__ import annotations

import base64
import io
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from arena.battles.media import ImageLimits, MediaError, image_normalise
from arena.battles.media_video import VideoLimits, video_normalise, video_target
from arena.battles.models import Arena, Battle, BattleStatus, Contender, Output, Provider
from tests.fakes import OpenAIImagesFake, start_fake
from tests.fakes.server import Recorded, Reply
from tests.fakes.testing import FAST_OPTIONS

ROOT = Path(__file__).resolve().parents[2]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit black PNG of width×height, built row by row (a few KB, no big buffer)."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
    b"newpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"
)


def test_the_bomb_png_is_a_real_image_of_the_declared_size(monkeypatch: Any) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # only to read its header here
    raw = bomb_png(11000, 11000)
    assert len(raw) < 40_000
    with Image.open(io.BytesIO(raw)) as img:
        assert img.size == (11000, 11000) and img.mode == "1"
    small = bomb_png(40, 30)
    with Image.open(io.BytesIO(small)) as img:
        img.load()
        assert img.size == (40, 30)


def test_an_11000_square_1_bit_png_is_refused_without_allocating_its_pixels(tmp_path: Path) -> None:
    """~735 MB once decoded and converted; refused from its header. Measured in a fresh
    process: its peak resident memory stays near an idle interpreter's."""
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(11000, 11000))
    script = (
        "import resource, sys\n"
        "from arena.battles.media import MediaError, image_normalise\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"raw = open({str(path)!r}, 'rb').read()\n"
        "try:\n"
        "    image_normalise(raw, width=512, height=512)\n"
        "    print('DECODED')\n"
        "except MediaError as exc:\n"
        "    print('REFUSED', exc)\n"
        "print('PEAK_MB', (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "REFUSED" in done.stdout, done.stdout + done.stderr
    assert "ARENA_IMAGE_MAX_PIXELS" in done.stdout and "before decoding" in done.stdout
    peak = float(done.stdout.split("PEAK_MB")[1])
    assert peak < 30, f"refusing the bomb grew the process by {peak:.0f} MB"


def test_an_image_between_one_and_two_budgets_is_refused_too() -> None:
    """Pillow only warns up to twice MAX_IMAGE_PIXELS; our budget is a hard one."""
    with pytest.raises(
        MediaError,
        match=r"7000×7000 = 49,000,000 pixels is over the decoding "
        r"budget of 36,000,000",
    ):
        image_normalise(bomb_png(7000, 7000), width=512, height=512)
    with pytest.raises(MediaError, match="over the decoding budget of 1,000 pixels"):
        image_normalise(bomb_png(40, 30), width=64, height=64, limits=ImageLimits(1000))
    assert image_normalise(bomb_png(40, 25), width=64, height=64, limits=ImageLimits(1000))


@pytest.mark.parametrize("fmt", ["EPS", "TIFF", "BMP", "ICO", "PSD-like"])
def test_only_png_jpeg_webp_and_gif_are_ever_opened(fmt: str, monkeypatch: Any) -> None:
    from PIL import EpsImagePlugin

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the EPS plugin ran")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    if fmt == "EPS":
        raw = EPS
    elif fmt == "PSD-like":
        raw = b"8BPS\x00\x01" + b"\x00" * 64
    else:
        raw = io.BytesIO()
        Image.new("RGB", (16, 16)).save(raw, fmt)
        raw = raw.getvalue()
    with pytest.raises(MediaError, match="not a PNG, JPEG, WebP or GIF image"):
        image_normalise(raw, width=64, height=64)


def test_a_truncated_image_is_a_clear_error() -> None:
    raw = io.BytesIO()
    Image.effect_noise((256, 256), 60).save(raw, "PNG")
    with pytest.raises(MediaError, match="not a decodable image"):
        image_normalise(raw.getvalue()[:2000], width=64, height=64)


# ------------------------------------------------------------------------------------ videos
def make_video(tmp_path: Path, name: str, *args: str) -> bytes:
    import imageio_ffmpeg

    target = tmp_path / name
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            *args,
            "-c:v",
            "libx264",
            "-y",
            str(target),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return target.read_bytes()


TARGET = video_target(width=128, height=128, fps=24, duration_s=2, max_side=1536)


def test_a_video_declaring_two_hours_is_refused_before_decoding(tmp_path: Path) -> None:
    raw = make_video(
        tmp_path, "long.mp4", "-f", "lavfi", "-i", "color=c=black:s=16x16:r=1/600", "-t", "7200"
    )
    assert len(raw) < 10_000
    started = time.perf_counter()
    with pytest.raises(MediaError, match=r"refused before decoding: it lasts 7,200.0 s"):
        video_normalise(raw, target=TARGET)
    assert time.perf_counter() - started < 5


def test_a_video_declaring_a_huge_resolution_is_refused(tmp_path: Path) -> None:
    raw = make_video(
        tmp_path, "wide.mp4", "-f", "lavfi", "-i", "color=c=black:s=5000x16:r=4", "-t", "1"
    )
    with pytest.raises(MediaError, match=r"5000×16 has a side over 4096 px"):
        video_normalise(raw, target=TARGET)
    small = make_video(
        tmp_path, "small.mp4", "-f", "lavfi", "-i", "color=c=black:s=64x64:r=4", "-t", "1"
    )
    with pytest.raises(MediaError, match=r"64×64 is over 1,000 pixels a frame"):
        video_normalise(small, target=TARGET, limits=VideoLimits(max_pixels=1000))


def test_a_video_declaring_too_many_frames_is_refused(tmp_path: Path) -> None:
    raw = make_video(
        tmp_path, "fast.mp4", "-f", "lavfi", "-i", "color=c=black:s=16x16:r=240", "-t", "2"
    )
    with pytest.raises(MediaError, match=r"declares 480 frames \(limit 100\)"):
        video_normalise(raw, target=TARGET, limits=VideoLimits(max_frames=100))


def test_a_playlist_posing_as_a_video_is_refused_and_fetches_nothing() -> None:
    """An HLS playlist would make a permissive ffmpeg fetch its segment URLs (SSRF)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    playlist = (
        f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:{port}/a.ts\n"
        "#EXT-X-ENDLIST\n"
    ).encode()
    try:
        with pytest.raises(MediaError, match="not an MP4/MOV or WebM/Matroska video"):
            video_normalise(playlist, target=TARGET)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_a_video_that_is_not_a_video_is_a_clear_error() -> None:
    with pytest.raises(MediaError):
        video_normalise(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100, target=TARGET)


# ------------------------------------------------------- a hostile provider, end to end
class BombFake(OpenAIImagesFake):
    """An OpenAI-protocol provider that answers with a decompression bomb."""

    def handle(self, req: Recorded) -> Reply:
        return Reply(
            200,
            {
                "created": 0,
                "data": [{"b64_json": base64.b64encode(bomb_png(11000, 11000)).decode()}],
            },
        )


def test_a_provider_returning_a_bomb_fails_its_battle_with_an_operator_message(
    demo_arena: Arena, run_on_commit: Any, voter: Any, monkeypatch: Any
) -> None:
    server = start_fake(BombFake())
    try:
        monkeypatch.setenv("ARENA_TEST_FAKE_KEY", "test-key")
        provider = Provider.objects.create(
            name="Hostile Cloud",
            kind="openai_images",
            base_url=server.base_url + "/v1",
            api_key_env="ARENA_TEST_FAKE_KEY",
            options=FAST_OPTIONS,
            timeout_s=10,
        )
        Contender.objects.exclude(name="Demo Aurora").update(enabled=False)
        Contender.objects.create(
            name="Bomb Model", provider=provider, model_id="gpt-image-1"
        ).arenas.add(demo_arena)
        created = run_on_commit(
            voter.post, "/api/arenas/text-to-image/battles", {"prompt": "a red fox"}
        )
    finally:
        server.stop()
    battle = Battle.objects.get(pk=created.json()["id"])
    assert battle.status == BattleStatus.FAILED
    bad = Output.objects.get(battle=battle, contender__name="Bomb Model")
    # refused where the bytes are first opened (the provider's result), before any decoding
    assert bad.error_code == "provider_error" and bad.attempts == 1
    assert "121000000 pixels" in bad.error and "ARENA_IMAGE_MAX_PIXELS" in bad.error
    assert "Bomb" not in battle.failure_reason
