"""Generation parameters a voter may choose per battle (aspect ratio, resolution, duration).

Each arena declares what it offers in `Arena.params`, e.g. for video
``{"aspect_ratio": ["16:9", "9:16", "1:1"], "resolution": ["480p", "720p"], "duration_s": [4, 8]}``
(the first value of each list is the default). A battle stores the values chosen for it, and
that one choice decides the form both outputs are delivered in: the same exact aspect ratio,
size and duration for both sides, whatever each provider can natively make (providers get the
nearest thing they support; media.py then crops, scales and trims to this form).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard

from arena.battles.errors import InvalidInput
from arena.battles.media import target_size

PARAM_NAMES = ("aspect_ratio", "resolution", "duration_s")
VIDEO_ONLY = frozenset({"duration_s"})
MAX_CHOICES = 12
_ASPECT = re.compile(r"([1-9]\d{0,2}):([1-9]\d{0,2})")
_RESOLUTION = re.compile(r"([1-9]\d{2,3})p")
MIN_SHORT_SIDE, MAX_SHORT_SIDE = 144, 2160
MAX_ASPECT = 4.0  # 4:1 either way
MAX_DURATION_S = 60.0

ParamValue = str | int | float


def aspect_parse(value: str) -> tuple[int, int]:
    """ "16:9" → (16, 9), reduced ("32:18" → (16, 9)); ValueError if it is no aspect ratio."""
    found = _ASPECT.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f'{value!r} is not an aspect ratio like "16:9"')
    w, h = int(found.group(1)), int(found.group(2))
    g = math.gcd(w, h)
    return w // g, h // g


def resolution_parse(value: str) -> int:
    """ "720p" → 720: the short side of the frame in pixels."""
    found = _RESOLUTION.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f'{value!r} is not a resolution like "720p"')
    return int(found.group(1))


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _value_problem(name: str, value: object) -> str | None:
    try:
        if name == "aspect_ratio":
            # the request's JSON value as is: a non-string fails in the parser (ValueError)
            w, h = aspect_parse(value)  # type: ignore[arg-type]
            if max(w / h, h / w) > MAX_ASPECT:
                return f"aspect_ratio {value!r} is more extreme than {MAX_ASPECT:g}:1"
        elif name == "resolution":
            # the request's JSON value as is: a non-string fails in the parser (ValueError)
            side = resolution_parse(value)  # type: ignore[arg-type]
            if not MIN_SHORT_SIDE <= side <= MAX_SHORT_SIDE:
                return (
                    f"resolution {value!r} must be between {MIN_SHORT_SIDE}p and {MAX_SHORT_SIDE}p"
                )
        elif name == "duration_s":
            if not _is_number(value) or not 0 < float(value) <= MAX_DURATION_S:
                return (
                    f"duration_s {value!r} must be a number of seconds above 0 and at most "
                    f"{MAX_DURATION_S:g}"
                )
    except ValueError as exc:
        return str(exc)
    return None


def arena_params_problems(params: object, *, modality: str) -> list[str]:
    """What is wrong with an arena's declared parameters, in words (empty: usable)."""
    if params in (None, {}):
        return []
    if not isinstance(params, Mapping):
        return ['params must be a JSON object such as {"aspect_ratio": ["1:1", "16:9"]}']
    problems = []
    for name, choices in params.items():
        if name not in PARAM_NAMES:
            problems.append(f"unknown parameter {name!r}; known: {', '.join(PARAM_NAMES)}")
            continue
        if name in VIDEO_ONLY and modality != "video":
            problems.append(f"{name} is offered by video arenas only")
            continue
        if not isinstance(choices, list) or not choices:
            problems.append(f"{name} must be a non-empty list of the values voters may choose")
            continue
        if len(choices) > MAX_CHOICES:
            problems.append(f"{name} offers {len(choices)} values; at most {MAX_CHOICES}")
        problems += [p for p in (_value_problem(name, v) for v in choices) if p]
        if len({repr(v) for v in choices}) != len(choices):
            problems.append(f"{name} lists a value twice")
    return problems


def arena_params_public(
    params: Mapping[str, list[ParamValue]] | None,
) -> dict[str, list[ParamValue]]:
    """The arena's offered parameters in one fixed order (the database may reorder keys)."""
    params = params or {}
    return {name: list(params[name]) for name in PARAM_NAMES if name in params}


def _same(offered: object, chosen: object) -> bool:
    if isinstance(offered, str) or isinstance(chosen, str):
        return offered == chosen
    # offered comes from the contender's validated options; _is_number checked chosen
    return _is_number(chosen) and float(offered) == float(chosen)  # type: ignore[arg-type]


def battle_params_resolve(
    *, offered: Mapping[str, list[ParamValue]], requested: object
) -> dict[str, ParamValue]:
    """The battle's parameters: each offered one as the voter chose it, else its default (the
    first offered value). Anything the arena does not offer is a 400 that lists what it does."""
    if requested is None:
        requested = {}
    if not isinstance(requested, Mapping):
        raise InvalidInput('params must be a JSON object such as {"aspect_ratio": "16:9"}.')
    unknown = [name for name in requested if name not in offered]
    if unknown:
        names = ", ".join(repr(str(n)[:40]) for n in unknown[:10])
        what = f"it offers {', '.join(offered)}" if offered else "it offers no parameters"
        raise InvalidInput(f"This arena does not offer the parameter {names}; {what}.")
    chosen: dict[str, ParamValue] = {}
    for name, choices in offered.items():
        if name not in requested:
            chosen[name] = choices[0]
            continue
        value = requested[name]
        match = next((c for c in choices if _same(c, value)), None)
        if match is None:
            allowed = ", ".join(str(c) for c in choices)
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
            raise InvalidInput(f"{name} {shown} is not offered here; choose one of: {allowed}.")
        chosen[name] = match
    return chosen


@dataclass(frozen=True)
class OutputForm:
    """The one form both outputs of a battle are delivered in."""

    width: int
    height: int
    duration_s: float | None  # video only
    aspect_ratio: str  # exact, reduced: "9:16"


def output_form(
    *,
    params: Mapping[str, object],
    width: int,
    height: int,
    duration_s: float | None,
    max_side: int,
    even: bool,
) -> OutputForm:
    """Frame size and duration from the battle's parameters, else the arena's fixed ones.

    The size has exactly the chosen aspect ratio: both sides are a whole multiple of the
    reduced ratio (an even multiple for video, whose yuv420p frames need even sides), as close
    as possible to the chosen resolution (the short side) or, without one, to the arena's
    pixel area; no side is over `max_side`.
    """
    if "aspect_ratio" not in params and "resolution" not in params:
        w, h = target_size(width, height, max_side=max_side, even=even)  # the arena's own
    else:
        if "aspect_ratio" in params:
            a, b = aspect_parse(str(params["aspect_ratio"]))
        else:
            g = math.gcd(width, height)
            a, b = width // g, height // g
        if "resolution" in params:
            unit = resolution_parse(str(params["resolution"])) / min(a, b)
        else:
            unit = math.sqrt(width * height / (a * b))
        step = 2 if even and (a % 2 or b % 2) else 1
        k = max(step, round(unit / step) * step)
        top = max_side // max(a, b) // step * step
        if k > top >= step:
            k = top
        w, h = a * k, b * k
    duration = params.get("duration_s", duration_s)
    return OutputForm(
        w,
        h,
        # the validated duration_s of the battle's params (a number) or the form's default
        float(duration) if duration is not None else None,  # type: ignore[arg-type]
        f"{w // math.gcd(w, h)}:{h // math.gcd(w, h)}",
    )
