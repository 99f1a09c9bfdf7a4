"""Demo video: short clips rendered on the CPU (numpy frames piped to the ffmpeg the project
already ships through imageio-ffmpeg), a few hundred milliseconds each, no key and no GPU.

Each demo style behaves like a different real provider: its own native frame size, frame rate,
maximum duration and container/codec, so the arena's normalisation (one form per battle) is
exercised by the demo itself. The prompt drives the clip: its colour words set the palette,
its words seed the scene and the motion, and the better styles "render" the prompt as a caption.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from generators.base import (
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    ProviderError,
)
from generators.sizing import note, target_ratio


@dataclass(frozen=True)
class NativeVideo:
    """What one demo style natively makes, like a provider's fixed menu."""

    short_side: int
    fps: int
    aspect: float | None  # None: follows the request; else always this ratio
    max_seconds: float
    codec: tuple[str, ...]  # ffmpeg output options
    extension: str
    content_type: str


_H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
_MPEG4 = ("-c:v", "mpeg4", "-q:v", "5", "-pix_fmt", "yuv420p")

NATIVE: dict[str, NativeVideo] = {
    "aurora": NativeVideo(360, 24, None, 10.0, _H264, "mp4", "video/mp4"),
    "mosaic": NativeVideo(320, 30, 1.0, 10.0, _MPEG4, "mp4", "video/mp4"),
    "sketch": NativeVideo(240, 15, None, 6.0, _H264, "mp4", "video/mp4"),
    "pixel": NativeVideo(144, 12, 16 / 9, 3.0, _MPEG4, "mp4", "video/mp4"),
    "noise": NativeVideo(180, 12, 16 / 9, 3.0, _MPEG4, "mkv", "video/x-matroska"),
}
DEFAULT_SECONDS = 4.0
STILL_SIDE = 320


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def native_size(style: NativeVideo, request: GenerationRequest) -> tuple[int, int]:
    """The style's own frame size: its short side at its own (or the requested) ratio."""
    ratio = style.aspect or target_ratio(request) or 16 / 9
    if ratio >= 1:
        return _even(style.short_side * ratio), _even(style.short_side)
    return _even(style.short_side), _even(style.short_side / ratio)


def _caption_overlay(w: int, h: int, prompt: str) -> tuple[np.ndarray, np.ndarray]:
    """(mask, pixels) of the prompt written across the bottom of a w×h frame."""
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(10, w // 22))
    text = prompt if len(prompt) <= 40 else prompt[:39] + "…"
    box = draw.textbbox((0, 0), text, font=font)
    x, y = (w - (box[2] - box[0])) // 2, h - (box[3] - box[1]) - h // 12
    draw.text((x + 1, y + 1), text, font=font, fill=80)
    draw.text((x, y), text, font=font, fill=255)
    alpha = np.asarray(canvas)
    return alpha > 0, np.repeat(alpha[..., None], 3, axis=2)


def render_frames(
    *, prompt: str, seed: int, style: str, width: int, height: int, frames: int
) -> np.ndarray:
    """(frames, height, width, 3) uint8: the style's still, slowly panned, with a
    glowing subject moving along a path the prompt chooses."""
    from generators.demo import _CAPTIONED, _RENDERERS, _palette, _rng

    rng = _rng(prompt, seed, f"video-{style}")
    margin = 1.35
    big_w, big_h = int(width * margin) + 2, int(height * margin) + 2
    # the still is drawn at most STILL_SIDE px long (the costly part) and scaled up
    shrink = min(1.0, STILL_SIDE / max(big_w, big_h))
    small = _RENDERERS[style](prompt, rng, max(8, int(big_w * shrink)), max(8, int(big_h * shrink)))
    still = np.asarray(
        small.convert("RGB").resize((big_w, big_h), Image.Resampling.BILINEAR), dtype=np.uint8
    )
    colour = _palette(prompt, rng, n=3)[2]
    words = len(prompt.split())
    speed = 0.5 + (words % 5) * 0.25  # the prompt's length sets the tempo
    angle0 = float(rng.uniform(0, 2 * math.pi))
    pan_x, pan_y = big_w - width, big_h - height
    radius = max(2.0, 0.09 * min(width, height))
    reach = int(3 * radius)
    py, px = np.mgrid[-reach : reach + 1, -reach : reach + 1].astype(np.float32)
    glow = np.exp(-(px**2 + py**2) / (2 * radius**2))[..., None]  # the subject, drawn once
    lit = colour * 0.85 * glow + 60 * glow
    mask = text = None
    if style in _CAPTIONED:
        mask, text = _caption_overlay(width, height, prompt)
    grain = (
        [rng.normal(0, 25, size=(height, width, 3)).astype(np.int16) for _ in range(3)]
        if style == "noise"
        else []
    )
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for i in range(frames):
        t = i / max(1, frames - 1)
        x0 = int(pan_x * (0.5 + 0.5 * math.sin(math.pi * (t - 0.5))))
        y0 = int(pan_y * t)
        frame = out[i]
        frame[:] = still[y0 : y0 + height, x0 : x0 + width]
        angle = angle0 + 2 * math.pi * speed * t
        cx = int(width * (0.5 + 0.32 * math.cos(angle)))
        cy = int(height * (0.5 + 0.32 * math.sin(2 * angle)))
        # the glow's patch, clipped to the frame
        top, left = max(0, cy - reach), max(0, cx - reach)
        bottom, right = min(height, cy + reach + 1), min(width, cx + reach + 1)
        if bottom > top and right > left:
            g = glow[top - cy + reach : bottom - cy + reach, left - cx + reach : right - cx + reach]
            add = lit[
                top - cy + reach : bottom - cy + reach, left - cx + reach : right - cx + reach
            ]
            patch = frame[top:bottom, left:right].astype(np.float32)
            frame[top:bottom, left:right] = np.clip(patch * (1 - 0.85 * g) + add, 0, 255)
        if grain:
            frame[:] = np.clip(frame + grain[i % len(grain)], 0, 255)
        if mask is not None and text is not None:
            frame[mask] = text[mask]
    return out


def encode(frames: np.ndarray, *, fps: int, native: NativeVideo, timeout_s: float) -> bytes:
    """Raw RGB frames → a video file in the style's own container and codec."""
    import imageio_ffmpeg

    count, height, width, _ = frames.shape
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp, f"clip.{native.extension}")
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(fps),
            "-i",
            "-",
            "-an",
            *native.codec,
            "-y",
            str(target),
        ]
        try:
            done = subprocess.run(
                command, input=frames.tobytes(), capture_output=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired as exc:
            raise ProviderError(f"demo video: encoding took over {timeout_s:g} s") from exc
        if done.returncode or not target.exists():
            raise ProviderError(
                "demo video: ffmpeg failed: " + done.stderr.decode(errors="replace")[-300:]
            )
        return target.read_bytes()


def demo_video(request: GenerationRequest, *, style: str, cost: float | None) -> GenerationResult:
    """One clip for (prompt, seed, style), mapped to what the style natively supports."""
    native = NATIVE.get(style)
    if native is None:
        raise BadConfiguration(f"demo style {style!r} has no video form")
    started = time.perf_counter()
    width, height = native_size(native, request)
    wanted = request.duration_s or DEFAULT_SECONDS
    seconds = min(wanted, native.max_seconds)
    frames = max(1, round(seconds * native.fps))
    pixels = render_frames(
        prompt=request.prompt,
        seed=request.seed,
        style=style,
        width=width,
        height=height,
        frames=frames,
    )
    data = encode(
        pixels, fps=native.fps, native=native, timeout_s=max(5.0, min(request.deadline_s, 60.0))
    )
    mapped: dict[str, dict[str, object]] = {}
    if request.width and request.height:
        note(mapped, "size", f"{request.width}x{request.height}", f"{width}x{height}")
    note(mapped, "duration_s", request.duration_s, seconds)
    note(mapped, "fps", request.fps, native.fps)
    return GenerationResult(
        content_type=native.content_type,
        data=data,
        mapped=mapped,
        used={
            "width": width,
            "height": height,
            "fps": native.fps,
            "duration_s": seconds,
            "seed": request.seed,
            "style": style,
            "codec": native.codec[1],
        },
        latency_s=time.perf_counter() - started,
        cost=cost or 0.0,
    )
