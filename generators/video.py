"""Helpers shared by the video providers (Sora 2, Azure Sora 1)."""

from __future__ import annotations

from generators.base import GenerationRequest, ProviderError
from generators.http import sniff_content_type
from generators.sizing import (
    nearest_size,
    nearest_value,
    note,
    requested_dims,
    requested_label,
    size_str,
)

DEFAULT_VIDEO_DIMS = (1280, 720)


def pick_size(
    request: GenerationRequest, choices: list[tuple[int, int]], mapped: dict[str, dict[str, object]]
) -> tuple[int, int]:
    """Nearest supported video size (landscape 720p when the request does not say)."""
    dims = requested_dims(request, default_area=1280 * 720) or DEFAULT_VIDEO_DIMS
    size = nearest_size(*dims, choices)
    note(mapped, "size", requested_label(request), size_str(*size))
    return size


def pick_seconds(
    request: GenerationRequest,
    choices: list[float],
    default: float,
    mapped: dict[str, dict[str, object]],
) -> float:
    """Nearest supported duration."""
    wanted = request.duration_s if request.duration_s else default
    used = nearest_value(wanted, choices)
    note(mapped, "duration_s", request.duration_s, used)
    return used


def check_video(data: bytes, provider: str) -> str:
    """The content type of returned video bytes; refuses what is not a video container."""
    ctype = sniff_content_type(data)
    if not ctype or not ctype.startswith("video/"):
        raise ProviderError(f"{provider}: returned bytes are not a video ({data[:12]!r})")
    return ctype
