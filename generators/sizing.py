"""Mapping the arena's requested size/aspect/duration to what a provider actually supports.

Every provider has its own discrete sizes or constraints; these helpers pick the nearest
supported value so that both contenders of a battle get as comparable a request as possible.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from generators.base import GenerationRequest

DEFAULT_SIDE = 1024


def parse_aspect(value: str) -> float:
    """ "16:9" → 1.777…; also accepts "16x9" and a plain float string."""
    text = value.strip().lower().replace("x", ":").replace("/", ":")
    if ":" in text:
        a, _, b = text.partition(":")
        w, h = float(a), float(b)
    else:
        w, h = float(text), 1.0
    if w <= 0 or h <= 0:
        raise ValueError(f"bad aspect ratio {value!r}")
    return w / h


def parse_size(value: str) -> tuple[int, int]:
    """ "1536x1024" → (1536, 1024)."""
    a, _, b = value.lower().partition("x")
    return int(a), int(b)


def size_list(value: object) -> list[tuple[int, int]]:
    """Operator-configured sizes: ["1024x1024", [1536, 1024], ...] → [(1024, 1024), ...]."""
    if not value or not isinstance(value, (list, tuple)):
        return []
    return [parse_size(s) if isinstance(s, str) else (int(s[0]), int(s[1])) for s in value]


def size_str(w: int, h: int) -> str:
    return f"{w}x{h}"


def target_ratio(request: GenerationRequest) -> float | None:
    """The aspect ratio the request asks for, or None when it does not say."""
    if request.width and request.height:
        return request.width / request.height
    if request.aspect_ratio:
        try:
            return parse_aspect(request.aspect_ratio)
        except ValueError:
            return None
    return None


def requested_dims(
    request: GenerationRequest, default_area: int = DEFAULT_SIDE**2
) -> tuple[int, int] | None:
    """Explicit width/height, or dims of `default_area` pixels at the requested aspect ratio."""
    if request.width and request.height:
        return request.width, request.height
    ratio = target_ratio(request)
    if ratio is None:
        if request.width or request.height:
            side = request.width or request.height or DEFAULT_SIDE
            return side, side
        return None
    h = math.sqrt(default_area / ratio)
    return round(h * ratio), round(h)


def requested_label(request: GenerationRequest) -> str | None:
    """How the request expressed its size, for `GenerationResult.mapped`."""
    if request.width and request.height:
        return size_str(request.width, request.height)
    return request.aspect_ratio


def nearest_size(w: int, h: int, choices: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The supported size closest in aspect ratio first, then in area."""
    ratio = math.log(w / h)
    area = math.log(w * h)

    def score(c: tuple[int, int]) -> tuple[float, float]:
        return (round(abs(math.log(c[0] / c[1]) - ratio), 3), abs(math.log(c[0] * c[1]) - area))

    return min(choices, key=score)


def nearest_aspect(ratio: float, choices: Iterable[str]) -> str:
    """The supported "W:H" string closest to `ratio` (in log space, so 2:1 ~ 1:2 symmetric)."""
    return min(choices, key=lambda c: abs(math.log(parse_aspect(c)) - math.log(ratio)))


def aspect_label(w: int, h: int) -> str:
    g = math.gcd(w, h) or 1
    return f"{w // g}:{h // g}"


def fit_dims(
    w: int,
    h: int,
    *,
    multiple: int = 1,
    min_side: int = 1,
    max_side: int | None = None,
    max_pixels: int | None = None,
    max_ratio: float | None = None,
) -> tuple[int, int]:
    """Scale (w, h) keeping the aspect ratio into the provider's box, rounded to `multiple`."""
    ratio = w / h
    if max_ratio is not None:
        ratio = min(max(ratio, 1 / max_ratio), max_ratio)
        fh = math.sqrt(w * h / ratio)
        fw = fh * ratio
    else:
        fw, fh = float(w), float(h)
    if max_pixels and fw * fh > max_pixels:
        scale = math.sqrt(max_pixels / (fw * fh))
        fw, fh = fw * scale, fh * scale
    if max_side and max(fw, fh) > max_side:
        scale = max_side / max(fw, fh)
        fw, fh = fw * scale, fh * scale
    if min(fw, fh) < min_side:
        scale = min_side / min(fw, fh)
        fw, fh = fw * scale, fh * scale

    def snap(v: float, lo: int, hi: int | None) -> int:
        n = max(lo, int(v / multiple + 0.5) * multiple)
        if hi is not None:
            n = min(n, hi - hi % multiple)
        return max(n, multiple)

    lo = -(-min_side // multiple) * multiple
    rw, rh = snap(fw, lo, max_side), snap(fh, lo, max_side)
    while max_pixels and rw * rh > max_pixels:
        if rw >= rh and rw - multiple >= lo:
            rw -= multiple
        elif rh - multiple >= lo:
            rh -= multiple
        else:
            break
    return rw, rh


def nearest_value(value: float, choices: Sequence[float]) -> float:
    return min(choices, key=lambda c: (abs(c - value), c))


def note(mapped: dict[str, dict[str, object]], name: str, requested: object, used: object) -> None:
    """Record that `name` could not be honoured as requested."""
    if requested is not None and requested != used:
        mapped[name] = {"requested": requested, "used": used}
