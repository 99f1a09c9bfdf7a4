"""Demo image editing on the CPU: real Pillow operations chosen by words of the instruction.

"make it red" recolours, "blur", "sharpen", "mirror"/"flip", "rotate", "grayscale"/"black and
white", "brighter"/"darker", "invert", "sepia", "more contrast". The styles differ in quality
so a demo leaderboard separates them: aurora does every operation carefully, mosaic does them
and posterises, sketch does only the first, pixel does them at low resolution, and noise
mostly ignores the instruction and adds grain.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from generators.base import GenerationRequest, GenerationResult, ProviderError

_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (240, 140, 30),
    "yellow": (240, 210, 60),
    "green": (50, 170, 70),
    "blue": (40, 90, 220),
    "purple": (130, 60, 180),
    "pink": (240, 120, 180),
    "gold": (220, 180, 60),
    "teal": (30, 150, 150),
}

Operation = Callable[[Image.Image], Image.Image]


def _tint(colour: tuple[int, int, int]) -> Operation:
    def apply(img: Image.Image) -> Image.Image:
        grey = ImageOps.grayscale(img)
        return ImageOps.colorize(grey, black=(10, 10, 10), white=(255, 255, 255), mid=colour)

    return apply


def _sepia(img: Image.Image) -> Image.Image:
    return ImageOps.colorize(ImageOps.grayscale(img), black=(30, 20, 10), white=(255, 240, 200))


# (pattern on the lower-cased instruction, operation name, operation)
_OPERATIONS: tuple[tuple[str, str, Operation], ...] = (
    (r"\b(gr[ae]yscale|black and white|monochrome|b&w)\b", "grayscale", ImageOps.grayscale),
    (r"\bsepia|vintage\b", "sepia", _sepia),
    (r"\binvert|negative\b", "invert", ImageOps.invert),
    (r"\bblur(ry|red)?|soft(en|er)\b", "blur", lambda i: i.filter(ImageFilter.GaussianBlur(4))),
    (r"\bsharp(en|er)?\b", "sharpen", lambda i: ImageEnhance.Sharpness(i).enhance(2.5)),
    (r"\bmirror|flip\b", "mirror", ImageOps.mirror),
    (r"\bupside down\b", "flip", ImageOps.flip),
    (r"\brotat", "rotate", lambda i: i.rotate(90, expand=True)),
    (r"\bbright(er|en)?|lighter\b", "brighter", lambda i: ImageEnhance.Brightness(i).enhance(1.4)),
    (r"\bdark(er|en)?|dimmer\b", "darker", lambda i: ImageEnhance.Brightness(i).enhance(0.6)),
    (r"\bcontrast\b", "contrast", lambda i: ImageEnhance.Contrast(i).enhance(1.6)),
    (r"\bsaturat|vivid|vibrant\b", "saturate", lambda i: ImageEnhance.Color(i).enhance(1.8)),
)


def edit_operations(instruction: str) -> list[tuple[str, Operation]]:
    """The operations the instruction asks for, in the order its words name them."""
    text = instruction.casefold()
    found: list[tuple[int, str, Operation]] = []
    for pattern, name, operation in _OPERATIONS:
        match = re.search(pattern, text)
        if match:
            found.append((match.start(), name, operation))
    for word, colour in _COLOURS.items():
        match = re.search(rf"\b{word}\b", text)
        if match:
            found.append((match.start(), word, _tint(colour)))
            break  # one recolour
    return [(name, operation) for _, name, operation in sorted(found, key=lambda f: f[0])]


def _apply(img: Image.Image, operations: list[tuple[str, Operation]]) -> Image.Image:
    for _, operation in operations:
        img = operation(img).convert("RGB")
    return img


def demo_edit(request: GenerationRequest, *, style: str, cost: float | None) -> GenerationResult:
    started = time.perf_counter()
    if not request.source_image:
        raise ProviderError("an edit needs a source image", permanent=True)
    try:
        with Image.open(io.BytesIO(request.source_image), formats=["PNG"]) as img:
            source = img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise ProviderError(f"demo edit could not read the source image: {exc}") from exc
    operations = edit_operations(request.prompt)
    seed = np.random.default_rng(request.seed)
    if style == "aurora":
        out = _apply(source, operations)
    elif style == "mosaic":
        out = ImageOps.posterize(_apply(source, operations), 3)
    elif style == "sketch":
        out = _apply(source, operations[:1])
    elif style == "pixel":
        small = source.resize((max(1, source.width // 12), max(1, source.height // 12)))
        out = _apply(small, operations).resize(
            (source.width, source.height)
            if not _rotated(operations)
            else (source.height, source.width),
            Image.Resampling.NEAREST,
        )
    else:  # noise: ignores the instruction, adds grain
        pixels = np.asarray(source, dtype=np.float32)
        pixels += seed.normal(0, 40, size=pixels.shape)
        out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(2)
        )
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", compress_level=1)
    return GenerationResult(
        content_type="image/png",
        data=buffer.getvalue(),
        used={
            "width": out.width,
            "height": out.height,
            "seed": request.seed,
            "style": style,
            "operations": [name for name, _ in operations],
        },
        latency_s=time.perf_counter() - started,
        cost=cost or 0.0,
    )


def _rotated(operations: list[tuple[str, Operation]]) -> bool:
    return any(name == "rotate" for name, _ in operations)
