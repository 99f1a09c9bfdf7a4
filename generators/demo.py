"""Demo generators: deterministic CPU renderers that need no GPU and no key (images here,
short video clips in demo_video.py).

They are demo material, named as such, and go through the same task path as real providers.
Each style differs visibly in look and in quality so a demo leaderboard can separate them.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from generators.base import (
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    Generator,
    ModerationRefused,
    ProviderConfig,
)
from generators.coerce import as_float

# Words that steer the palette, so outputs visibly follow the prompt.
_COLOUR_WORDS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40),
    "orange": (240, 140, 30),
    "yellow": (240, 210, 60),
    "green": (60, 160, 70),
    "forest": (34, 100, 50),
    "blue": (40, 90, 210),
    "ocean": (20, 90, 160),
    "sea": (30, 110, 170),
    "sky": (120, 180, 240),
    "purple": (130, 60, 170),
    "pink": (240, 130, 180),
    "night": (20, 20, 60),
    "sunset": (250, 110, 60),
    "gold": (220, 180, 60),
    "snow": (235, 240, 250),
    "desert": (220, 180, 120),
    "fire": (240, 80, 20),
    "black": (15, 15, 20),
    "white": (240, 240, 240),
    "city": (110, 110, 130),
    "neon": (255, 40, 200),
}

STYLES = ("aurora", "mosaic", "sketch", "pixel", "noise")
MAX_SIDE = 2048


def _rng(prompt: str, seed: int, style: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{style}\x00{seed}\x00{prompt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _palette(prompt: str, rng: np.random.Generator, n: int = 4) -> np.ndarray:
    words = [w.strip(".,!?;:").lower() for w in prompt.split()]
    colours = [_COLOUR_WORDS[w] for w in words if w in _COLOUR_WORDS]
    while len(colours) < n:
        red, green, blue = (int(c) for c in rng.integers(30, 230, size=3))
        colours.append((red, green, blue))
    return np.array(colours[:n], dtype=np.float32)


def _gradient(h: int, w: int, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()


def _aurora(prompt: str, rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Careful, layered landscape with soft light: the best demo model."""
    pal = _palette(prompt, rng)
    img = _gradient(h, w, pal[0] * 0.6 + 60, pal[1])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    sun_x, sun_y = rng.uniform(0.2, 0.8) * w, rng.uniform(0.15, 0.4) * h
    glow = np.exp(-((xs - sun_x) ** 2 + (ys - sun_y) ** 2) / (2 * (0.12 * w) ** 2))
    img += glow[..., None] * np.array([255, 230, 180], dtype=np.float32) * 0.8
    for layer in range(4):
        base = h * (0.45 + 0.13 * layer)
        freq = rng.uniform(1.5, 4.0) * (layer + 1)
        phase = rng.uniform(0, 2 * np.pi)
        ridge = base + h * 0.06 * np.sin(np.linspace(0, freq, w) + phase)
        ridge += h * 0.02 * np.sin(np.linspace(0, freq * 3.7, w) + phase * 2)
        shade = pal[2] * (0.35 + 0.15 * layer) + pal[3] * 0.1 * (3 - layer)
        mask = ys > ridge[None, :]
        img[mask] = img[mask] * 0.25 + shade * 0.75
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.GaussianBlur(radius=max(1, w // 512)))


def _mosaic(prompt: str, rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Stained-glass cells: decorative, decent."""
    pal = _palette(prompt, rng, n=6)
    n = 48
    cx, cy = rng.uniform(0, w, n), rng.uniform(0, h, n)
    scale = max(1, max(w, h) // 256)
    # squared distances to every centre, from the grid's rows and columns (separable: one
    # full-size sum instead of five), then the nearest and second-nearest centre without
    # sorting all 48 per pixel: ~4x faster than argsort over the 2D grid, the same picture
    gy = np.arange(h // scale, dtype=np.float32) * scale
    gx = np.arange(w // scale, dtype=np.float32) * scale
    dist = (gx[None, :, None] - cx) ** 2 + (gy[:, None, None] - cy) ** 2
    nearest = dist.argmin(axis=-1)[..., None]
    d0 = np.take_along_axis(dist, nearest, -1)[..., 0]
    np.put_along_axis(dist, nearest, np.inf, -1)
    d1 = dist.min(axis=-1)
    colours = pal[rng.integers(0, len(pal), n)] * rng.uniform(0.7, 1.2, (n, 1))
    img = colours[nearest[..., 0]]
    edge = (np.sqrt(d1) - np.sqrt(d0)) < 2.5 * scale
    img[edge] = 25
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return out.resize((w, h), Image.Resampling.NEAREST)


def _sketch(prompt: str, rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Pen strokes on paper: readable but sparse."""
    pal = _palette(prompt, rng, n=2)
    out = Image.new("RGB", (w, h), (245, 240, 228))
    draw = ImageDraw.Draw(out)
    for _ in range(60):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        points = [(x0, y0)]
        for _ in range(6):
            x0 += rng.normal(0, w * 0.05)
            y0 += rng.normal(0, h * 0.05)
            points.append((x0, y0))
        colour = tuple(int(c * 0.5) for c in pal[int(rng.integers(0, 2))])
        draw.line(points, fill=colour, width=max(1, w // 256))
    return out


def _pixel(prompt: str, rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Sixteen-pixel art scaled up: crude."""
    pal = _palette(prompt, rng, n=4)
    grid = pal[rng.integers(0, 4, size=(16, 16))]
    grid[:8] = grid[:8] * 0.5 + pal[0] * 0.5
    small = Image.fromarray(np.clip(grid, 0, 255).astype(np.uint8))
    return small.resize((w, h), Image.Resampling.NEAREST)


def _noise(prompt: str, rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """Blurry static with a colour cast: the worst demo model."""
    pal = _palette(prompt, rng, n=1)
    img = rng.normal(0, 60, size=(h // 4, w // 4, 3)).astype(np.float32) + pal[0]
    small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return small.resize((w, h), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(3))


_RENDERERS: dict[str, Callable[[str, np.random.Generator, int, int], Image.Image]] = {
    "aurora": _aurora,
    "mosaic": _mosaic,
    "sketch": _sketch,
    "pixel": _pixel,
    "noise": _noise,
}
_CAPTIONED = {"aurora", "mosaic"}  # better models "render text" of the prompt


def _caption(img: Image.Image, prompt: str) -> None:
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(12, img.width // 28))
    text = prompt if len(prompt) <= 48 else prompt[:47] + "…"
    bbox = draw.textbbox((0, 0), text, font=font)
    x = (img.width - (bbox[2] - bbox[0])) // 2
    y = img.height - (bbox[3] - bbox[1]) - img.height // 20
    draw.text((x + 2, y + 2), text, font=font, fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))


class DemoGenerator(Generator):
    """Renders a PNG for (prompt, seed, style) on the CPU in well under a second."""

    kind = "demo"
    queue = "default"
    supports_edit = True
    modalities = ("image", "video")

    @classmethod
    def validate_config(cls, config: ProviderConfig | Mapping[str, object]) -> list[str]:
        options = config.options if isinstance(config, ProviderConfig) else config
        style = options.get("style", "aurora")
        if style not in _RENDERERS:
            return [f"demo style must be one of {', '.join(STYLES)}, not {style!r}"]
        return []

    def generate(self, request: GenerationRequest) -> GenerationResult:
        if request.modality not in ("image", "video"):
            raise BadConfiguration(
                f"demo generators make images and videos, not {request.modality}"
            )
        style = str(self.config.options.get("style", "aurora"))
        problems = self.validate_config(self.config)
        if problems:
            raise BadConfiguration(problems[0])
        if "forbidden" in request.prompt.casefold():
            # Lets tests and operators exercise the refusal path without a remote provider.
            raise ModerationRefused("demo refused a prompt containing 'forbidden'")
        if request.source_image is not None:
            from generators.demo_edit import demo_edit

            return demo_edit(request, style=style, cost=self.config.cost_per_output)
        if request.modality == "video":
            from generators.demo_video import demo_video

            delay = as_float(self.config.options.get("delay_s", 0.0))
            if delay:
                time.sleep(delay)
            return demo_video(request, style=style, cost=self.config.cost_per_output)
        started = time.perf_counter()
        width = min(request.width or 512, MAX_SIDE)
        height = min(request.height or 512, MAX_SIDE)
        delay = as_float(self.config.options.get("delay_s", 0.0))
        if delay:
            time.sleep(delay)  # simulate a slower model in demos and tests
        img = _RENDERERS[style](
            request.prompt, _rng(request.prompt, request.seed, style), width, height
        )
        if style in _CAPTIONED:
            _caption(img, request.prompt)
        buffer = io.BytesIO()
        # stored, not deflated: the arena decodes and re-encodes it at once (level 1 cost ~3 ms
        # more per side to write and read, for bytes that never leave the worker)
        img.save(buffer, format="PNG", compress_level=0)
        mapped: dict[str, dict[str, object]] = {}
        if (width, height) != (request.width or 512, request.height or 512):
            mapped["size"] = {
                "requested": f"{request.width}x{request.height}",
                "used": f"{width}x{height}",
            }
        return GenerationResult(
            content_type="image/png",
            data=buffer.getvalue(),
            used={"width": width, "height": height, "seed": request.seed, "style": style},
            mapped=mapped,
            latency_s=time.perf_counter() - started,
            cost=self.config.cost_per_output or 0.0,
        )
