"""Re-encoding of generated images so nothing from the provider reaches the voter.

Decoding and re-encoding drops EXIF, XMP, ICC profiles, PNG text chunks and C2PA manifests:
only pixels survive. One format and size policy for every output.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

Image.MAX_IMAGE_PIXELS = 64_000_000  # refuse decompression bombs


class MediaError(ValueError):
    """The provider returned something that is not a usable image."""


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def image_sanitize(raw: bytes, *, max_side: int) -> CleanImage:
    """Decode, normalise orientation and colour, downscale if needed, re-encode as WebP."""
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise MediaError(f"not a decodable image: {exc}") from exc
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # A fresh image carries pixels only: no info dict, no ICC, no EXIF.
    clean = Image.new(img.mode, img.size)
    clean.paste(img)
    out = io.BytesIO()
    clean.save(out, format="WEBP", quality=90, method=4)
    return CleanImage(out.getvalue(), "image/webp", "webp", clean.width, clean.height)
