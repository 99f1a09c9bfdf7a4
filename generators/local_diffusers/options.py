"""The provider options: checked without torch (the admin form), then resolved against this
machine (device and dtype defaults)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from generators.base import BadConfiguration
from generators.coerce import as_float, as_int
from generators.local_diffusers.device import import_torch

KIND = "local_diffusers"
DTYPES = ("float16", "bfloat16", "float32")
_DTYPE_ALIASES = {
    "fp16": "float16",
    "half": "float16",
    "bf16": "bfloat16",
    "fp32": "float32",
    "float": "float32",
}
_DEVICE_RE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")
DEFAULT_MAX_BATCH = 4
DEFAULT_WINDOW_MS = 50.0
DEFAULT_FPS = 8
DEFAULT_MAX_SIDE = 2048
DEFAULT_MAX_FRAMES = 256
FALLBACK_SIDE = 512
PATH_HELP = (
    "local_diffusers needs options.path, a local directory holding a diffusers "
    "pipeline (model_index.json)"
)

_INT_OPTIONS: dict[str, tuple[int, int]] = {  # name -> inclusive bounds
    "num_inference_steps": (1, 1000),
    "max_batch": (1, 256),
    "fps": (1, 240),
    "num_frames": (1, 10_000),
    "max_frames": (1, 10_000),
    "frame_multiple": (1, 1000),
    "frame_offset": (0, 1000),
    "default_size": (8, 16_384),
    "max_side": (8, 16_384),
    "size_multiple": (1, 1024),
}
_FLOAT_OPTIONS: dict[str, tuple[float, float]] = {
    "guidance_scale": (0.0, 100.0),
    "batch_window_ms": (0.0, 10_000.0),
}


def _is_int(value: object) -> TypeGuard[float]:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _norm_dtype(value: object) -> str | None:
    text = str(value).strip().lower().removeprefix("torch.")
    text = _DTYPE_ALIASES.get(text, text)
    return text if text in DTYPES else None


def check_options(options: Mapping[str, object]) -> list[str]:
    """Human-readable problems with `options` (empty: usable). Imports no torch."""
    problems: list[str] = []
    path = options.get("path")
    if not isinstance(path, str) or not path.strip():
        problems.append(PATH_HELP)
    else:
        where = Path(path).expanduser()
        if not where.exists():
            problems.append(f"path {path} does not exist")
        elif not where.is_dir():
            problems.append(f"path {path} is not a directory")
        elif not (where / "model_index.json").is_file():
            problems.append(f"no model_index.json in {path}")
    dtype = options.get("dtype")
    if dtype is not None and _norm_dtype(dtype) is None:
        problems.append(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    device = options.get("device")
    if device is not None and not (isinstance(device, str) and _DEVICE_RE.match(device.strip())):
        problems.append(f"device must be cpu, cuda or cuda:N, not {device!r}")
    for name, (lo, hi) in _INT_OPTIONS.items():
        value = options.get(name)
        if value is not None and not (_is_int(value) and lo <= value <= hi):
            problems.append(
                f"options.{name} must be a whole number from {lo} to {hi}, not {value!r}"
            )
    for name, (flo, fhi) in _FLOAT_OPTIONS.items():
        value = options.get(name)
        if value is not None and not (_is_number(value) and flo <= value <= fhi):
            problems.append(
                f"options.{name} must be a number from {flo:g} to {fhi:g}, not {value!r}"
            )
    extra = options.get("call_kwargs")
    if extra is not None and not isinstance(extra, dict):
        problems.append("options.call_kwargs must be an object of keyword arguments")
    elif isinstance(extra, dict):
        reserved = {
            "prompt",
            "generator",
            "height",
            "width",
            "num_frames",
            "output_type",
            "num_inference_steps",
            "guidance_scale",
        } & set(extra)
        if reserved:
            problems.append(
                f"options.call_kwargs may not set {', '.join(sorted(reserved))} "
                "(they come from the request or have their own option)"
            )
    return problems


@dataclass(frozen=True)
class Settings:
    """Options resolved against this machine (torch is imported to pick the defaults)."""

    path: str
    dtype: str
    device: str
    steps: int | None
    guidance: float | None
    max_batch: int
    window_s: float
    options: Mapping[str, object]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.path, self.dtype, self.device)


def _or(value: object, default: float) -> float:
    """`value` as a number, or `default` when unset (0 stays 0, unlike `value or default`)."""
    return default if value is None else as_float(value)


def resolve_settings(options: Mapping[str, object]) -> Settings:
    """Validated settings with machine defaults, or BadConfiguration."""
    problems = check_options(options)
    if problems:
        raise BadConfiguration("; ".join(problems))
    torch = import_torch()
    device = str(options.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"))
    device = device.strip()
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise BadConfiguration(
                f"local_diffusers: device {device} asked for, but this "
                "worker's torch sees no CUDA device"
            )
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise BadConfiguration(
                f"local_diffusers: device {device} asked for, but this "
                f"worker has {torch.cuda.device_count()} CUDA device(s)"
            )
    default_dtype = "float32" if device == "cpu" else "float16"
    dtype = _norm_dtype(options.get("dtype") or default_dtype) or default_dtype
    steps = options.get("num_inference_steps")
    guidance = options.get("guidance_scale")
    return Settings(
        path=os.path.realpath(os.path.expanduser(str(options["path"]))),
        dtype=dtype,
        device=device,
        steps=as_int(steps) if steps is not None else None,
        guidance=as_float(guidance) if guidance is not None else None,
        max_batch=as_int(options.get("max_batch") or DEFAULT_MAX_BATCH),
        window_s=float(_or(options.get("batch_window_ms"), DEFAULT_WINDOW_MS)) / 1000.0,
        options=options,
    )
