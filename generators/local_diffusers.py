"""Local GPU models: a diffusers pipeline loaded from a directory on the GPU worker's disk.

Nothing is ever downloaded: the pipeline is loaded with ``local_files_only=True`` and
``HF_HUB_OFFLINE=1``. torch and diffusers are imported lazily, inside functions, so the web
process and the remote workers (which import every generator module through the registry's
admin checks) never import torch.

A loaded pipeline stays cached per process, keyed by (path, dtype, device), so it survives
between Celery tasks. Each cached pipeline owns one micro-batcher thread: requests that arrive
within a short window with the same call parameters are run as ONE pipeline call (a list of
prompts plus one seeded ``torch.Generator`` per item), which is where a GPU's throughput comes
from. The same thread is the only one that ever calls the pipeline, since diffusers pipelines
(their schedulers in particular) are not safe to call from two threads at once.

Options (``ProviderConfig.options``):

- ``path`` (required): local directory holding a diffusers pipeline (``model_index.json``).
- ``dtype``: ``float16`` | ``bfloat16`` | ``float32``; default float16 on CUDA, float32 on CPU.
- ``device``: ``cuda``, ``cuda:N``, ``cpu`` (or ``mps``); default cuda when available.
- ``num_inference_steps``, ``guidance_scale``: passed to the pipeline (else its defaults).
- ``max_batch`` (default 4) and ``batch_window_ms`` (default 50): micro-batching.
- ``default_size``: side used when the request gives no size (default: the model's native).
- ``max_side`` (default 2048) and ``size_multiple`` (default 8): size mapping.
- video: ``fps`` (default: the request's, else 8), ``num_frames`` (used when the request gives
  no duration; default: the pipeline's), ``max_frames`` (default 256), ``frame_multiple`` and
  ``frame_offset`` (frame counts of the form k*multiple+offset, e.g. 4 and 1 for Wan).
- ``call_kwargs``: extra keyword arguments for every pipeline call (e.g. ``negative_prompt``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.base import (
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    GenerationTimeout,
    Generator,
    GeneratorError,
    ModerationRefused,
    ProviderConfig,
    ProviderError,
)
from generators.sizing import fit_dims, note, requested_dims, requested_label, size_str

log = logging.getLogger(__name__)

KIND = "local_diffusers"
DTYPES = ("float16", "bfloat16", "float32")
_DTYPE_ALIASES = {"fp16": "float16", "half": "float16", "bf16": "bfloat16",
                  "fp32": "float32", "float": "float32"}
_DEVICE_RE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")
DEFAULT_MAX_BATCH = 4
DEFAULT_WINDOW_MS = 50.0
DEFAULT_FPS = 8
DEFAULT_MAX_SIDE = 2048
DEFAULT_MAX_FRAMES = 256
FALLBACK_SIDE = 512
PATH_HELP = ("local_diffusers needs options.path, a local directory holding a diffusers "
             "pipeline (model_index.json)")

_INT_OPTIONS: dict[str, tuple[int, int]] = {  # name -> inclusive bounds
    "num_inference_steps": (1, 1000), "max_batch": (1, 256), "fps": (1, 240),
    "num_frames": (1, 10_000), "max_frames": (1, 10_000), "frame_multiple": (1, 1000),
    "frame_offset": (0, 1000), "default_size": (8, 16_384), "max_side": (8, 16_384),
    "size_multiple": (1, 1024),
}
_FLOAT_OPTIONS: dict[str, tuple[float, float]] = {
    "guidance_scale": (0.0, 100.0), "batch_window_ms": (0.0, 10_000.0),
}


# ---------------------------------------------------------------------------- configuration
def _is_int(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: object) -> bool:
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
        if value is not None and not (_is_int(value) and lo <= value <= hi):  # type: ignore[operator]
            problems.append(f"options.{name} must be a whole number from {lo} to {hi}, "
                            f"not {value!r}")
    for name, (flo, fhi) in _FLOAT_OPTIONS.items():
        value = options.get(name)
        if value is not None and not (_is_number(value) and flo <= value <= fhi):  # type: ignore[operator]
            problems.append(f"options.{name} must be a number from {flo:g} to {fhi:g}, "
                            f"not {value!r}")
    extra = options.get("call_kwargs")
    if extra is not None and not isinstance(extra, dict):
        problems.append("options.call_kwargs must be an object of keyword arguments")
    elif isinstance(extra, dict):
        reserved = {"prompt", "generator", "height", "width", "num_frames", "output_type",
                    "num_inference_steps", "guidance_scale"} & set(extra)
        if reserved:
            problems.append(f"options.call_kwargs may not set {', '.join(sorted(reserved))} "
                            "(they come from the request or have their own option)")
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
    return default if value is None else float(value)  # type: ignore[arg-type]


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
            raise BadConfiguration(f"local_diffusers: device {device} asked for, but this "
                                   "worker's torch sees no CUDA device")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise BadConfiguration(f"local_diffusers: device {device} asked for, but this "
                                   f"worker has {torch.cuda.device_count()} CUDA device(s)")
    default_dtype = "float32" if device == "cpu" else "float16"
    dtype = _norm_dtype(options.get("dtype") or default_dtype) or default_dtype
    steps = options.get("num_inference_steps")
    guidance = options.get("guidance_scale")
    return Settings(
        path=os.path.realpath(os.path.expanduser(str(options["path"]))),
        dtype=dtype,
        device=device,
        steps=int(steps) if steps is not None else None,  # type: ignore[call-overload]
        guidance=float(guidance) if guidance is not None else None,  # type: ignore[arg-type]
        max_batch=int(options.get("max_batch") or DEFAULT_MAX_BATCH),  # type: ignore[call-overload]
        window_s=float(_or(options.get("batch_window_ms"), DEFAULT_WINDOW_MS)) / 1000.0,
        options=options,
    )


# ---------------------------------------------------------------------------- lazy imports
def import_torch() -> Any:
    """torch, imported on first use only (never in the web process)."""
    try:
        import torch
    except ImportError as exc:
        raise BadConfiguration(
            "local_diffusers needs torch and diffusers on the GPU worker: "
            f"pip install -r requirements-gpu.txt ({exc})") from exc
    return torch


def import_diffusers() -> Any:
    """diffusers, with the Hub switched off before it (and huggingface_hub) is imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import_torch()
    try:
        import diffusers
    except ImportError as exc:
        raise BadConfiguration(
            "local_diffusers needs diffusers on the GPU worker: "
            f"pip install -r requirements-gpu.txt ({exc})") from exc
    # tqdm bars (diffusers' and transformers' loaders) would flood the worker's log.
    diffusers.utils.logging.disable_progress_bar()
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pipelines without a transformers text encoder
        pass
    return diffusers


def is_oom(exc: BaseException) -> bool:
    """A CUDA (or other accelerator) out-of-memory error."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is there whenever a pipeline ran
        return False
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_accelerator_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # pragma: no cover - best effort only
        pass


# ---------------------------------------------------------------------------- micro-batcher
@dataclass
class Job:
    """One request waiting for a pipeline call."""

    prompt: str
    seed: int
    kwargs: dict[str, Any]  # identical for every job of one batch
    max_batch: int
    window_s: float
    future: Future[Any] = field(default_factory=Future)
    signature: str = ""

    def __post_init__(self) -> None:
        if not self.signature:
            self.signature = json.dumps(self.kwargs, sort_keys=True, default=repr)


class MicroBatcher:
    """Collects jobs arriving within a window and runs them as one call on one thread.

    `run_batch(jobs)` returns one item per job: the output, or an exception for that job. Jobs
    are batched only with jobs of the same signature (size, steps, frames...), up to the first
    job's `max_batch`; the others wait for a later call in their arrival order. A lone job
    waits at most `window_s` before it runs alone.
    """

    def __init__(self, name: str, run_batch: Callable[[list[Job]], list[Any]]) -> None:
        self.name = name
        self._run_batch = run_batch
        self._pending: deque[Job] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batch_sizes: list[int] = []  # one entry per pipeline call (tests, the bench)

    def submit(self, job: Job) -> Future[Any]:
        with self._cond:
            if self._closed:
                raise ProviderError(f"{self.name}: pipeline was unloaded; retry")
            self._pending.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name=f"diffusers-batcher-{self.name}")
                self._thread.start()
            self._cond.notify_all()
        return job.future

    def close(self) -> None:
        """Stop after the jobs already queued."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)

    def _take_matching(self, first: Job, batch: list[Job]) -> None:
        keep: deque[Job] = deque()
        while self._pending:
            job = self._pending.popleft()
            if len(batch) < first.max_batch and job.signature == first.signature:
                batch.append(job)
            else:
                keep.append(job)
        self._pending = keep

    def _collect(self) -> list[Job] | None:
        with self._cond:
            while not self._pending:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._pending.popleft()
            batch = [first]
            deadline = time.monotonic() + first.window_s
            while True:
                self._take_matching(first, batch)
                left = deadline - time.monotonic()
                if len(batch) >= first.max_batch or left <= 0 or self._closed:
                    return batch
                self._cond.wait(left)

    def _loop(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            # Jobs whose caller gave up (deadline) before the call are dropped here.
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not live:
                continue
            self.batch_sizes.append(len(live))
            try:
                outputs = self._run_batch(live)
            except BaseException as exc:  # the thread must survive anything
                outputs = [ProviderError(f"{self.name}: batch failed: {type(exc).__name__}: "
                                         f"{exc}") for _ in live]
            for job, out in zip(live, outputs, strict=True):
                if isinstance(out, BaseException):
                    job.future.set_exception(out)
                else:
                    job.future.set_result(out)


# ---------------------------------------------------------------------------- loaded pipelines
@dataclass
class Output:
    """One job's share of a pipeline call, handed back to the caller's thread to encode."""

    item: Any  # a PIL image, or a list of HxWx3 uint8 frames
    batch_size: int
    nsfw: bool = False


def _native_side(pipe: Any) -> int:
    """The side a pipeline generates at by default (sample size x VAE scale)."""
    sample = getattr(pipe, "default_sample_size", None)
    if not sample:
        for name in ("unet", "transformer"):
            config = getattr(getattr(pipe, name, None), "config", None)
            sample = getattr(config, "sample_size", None) if config is not None else None
            if sample:
                break
    if isinstance(sample, (list, tuple)):
        sample = sample[0]
    scale = (getattr(pipe, "vae_scale_factor", None)
             or getattr(pipe, "vae_scale_factor_spatial", None) or 8)
    try:
        return int(sample) * int(scale) if sample else FALLBACK_SIDE
    except (TypeError, ValueError):
        return FALLBACK_SIDE


def _call_params(pipe: Any) -> tuple[set[str], bool]:
    """Names `pipe.__call__` accepts, and whether it also takes **kwargs."""
    import inspect

    try:
        params = inspect.signature(pipe.__call__).parameters
    except (TypeError, ValueError):
        return set(), True
    names = {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _load_pipeline(settings: Settings) -> Any:
    """`DiffusionPipeline.from_pretrained(path, local_files_only=True)` moved to the device."""
    diffusers = import_diffusers()
    torch = import_torch()
    dtype = getattr(torch, settings.dtype)
    # diffusers >= 0.36 renamed torch_dtype to dtype (the old name warns until 1.0).
    dtype_kw = ("dtype" if hasattr(diffusers.utils.deprecation_utils, "_resolve_dtype")
                else "torch_dtype")
    started = time.perf_counter()
    pipe = diffusers.DiffusionPipeline.from_pretrained(
        settings.path, local_files_only=True, **{dtype_kw: dtype})
    pipe = pipe.to(settings.device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    log.info("local_diffusers: loaded %s (%s) as %s on %s in %.1fs", settings.path,
             type(pipe).__name__, settings.dtype, settings.device, time.perf_counter() - started)
    return pipe


class LoadedPipeline:
    """A pipeline kept in memory with its batcher thread."""

    def __init__(self, settings: Settings, pipe: Any) -> None:
        self.key = settings.key
        self.device = settings.device
        self.pipe = pipe
        self.name = type(pipe).__name__
        self.params, self.var_kw = _call_params(pipe)
        self.is_video = "num_frames" in self.params or "Video" in self.name
        self.native_side = _native_side(pipe)
        self.batcher = MicroBatcher(Path(settings.path).name or self.name, self.run_batch)

    def accepts(self, name: str) -> bool:
        return self.var_kw or name in self.params

    def run_batch(self, jobs: list[Job]) -> list[Any]:
        """One pipeline call for `jobs` (batcher thread only); OOM splits the batch."""
        torch = import_torch()
        kwargs = dict(jobs[0].kwargs)
        kwargs["prompt"] = [job.prompt for job in jobs]
        # One generator per item: each image depends only on its own seed, not on its batch.
        kwargs["generator"] = [torch.Generator(self.device).manual_seed(job.seed % 2**64)
                               for job in jobs]
        try:
            out = self.pipe(**kwargs)
        except Exception as exc:
            if is_oom(exc):
                _free_accelerator_memory()
                if len(jobs) > 1:
                    log.warning("local_diffusers: OOM on a batch of %d; running them one by one",
                                len(jobs))
                    return [self.run_batch([job])[0] for job in jobs]
                return [ProviderError(f"local_diffusers: out of accelerator memory on "
                                      f"{self.device} ({self.name}): {exc}", retry_after=5.0)]
            if isinstance(exc, (ValueError, TypeError)):
                # The pipeline refused its arguments: the same request would fail again.
                return [BadConfiguration(f"local_diffusers: {self.name} rejected the call: "
                                         f"{exc}") for _ in jobs]
            return [ProviderError(f"local_diffusers: {self.name} failed: "
                                  f"{type(exc).__name__}: {exc}") for _ in jobs]
        items = self._split(out, len(jobs))
        nsfw = getattr(out, "nsfw_content_detected", None) or [False] * len(jobs)
        return [Output(item=item, batch_size=len(jobs), nsfw=bool(flag))
                for item, flag in zip(items, nsfw, strict=False)]

    def _split(self, out: Any, n: int) -> list[Any]:
        if self.is_video or hasattr(out, "frames"):
            frames = getattr(out, "frames", None)
            if frames is None:
                frames = out[0]
            return [_frames_to_uint8(frames[i]) for i in range(n)]
        images = getattr(out, "images", None)
        if images is None:
            images = out[0]
        return [_to_pil(images[i]) for i in range(n)]


def _to_pil(image: Any) -> Any:
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    frame = _frames_to_uint8([image])[0]
    return Image.fromarray(frame)


def _frames_to_uint8(frames: Any) -> list[Any]:
    """Frames as a list of HxWx3 uint8 arrays, from PIL images, floats in [0, 1] or tensors."""
    import numpy as np

    if hasattr(frames, "detach"):  # a torch tensor
        frames = frames.detach().float().cpu().numpy()
    result = []
    for frame in frames:
        if hasattr(frame, "detach"):
            frame = frame.detach().float().cpu().numpy()
        arr = np.asarray(frame)
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
            arr = arr.transpose(1, 2, 0)  # CHW -> HWC
        if arr.dtype != np.uint8:
            arr = (np.clip(arr.astype(np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        result.append(arr[..., :3])
    return result


_CACHE: dict[tuple[str, str, str], LoadedPipeline] = {}
_CACHE_LOCK = threading.Lock()
_LOAD_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}


def get_pipeline(settings: Settings) -> LoadedPipeline:
    """The cached pipeline for settings.key, loading it (once, even under threads) if needed."""
    with _CACHE_LOCK:
        entry = _CACHE.get(settings.key)
        if entry is not None:
            return entry
        lock = _LOAD_LOCKS.setdefault(settings.key, threading.Lock())
    with lock:
        with _CACHE_LOCK:
            entry = _CACHE.get(settings.key)
        if entry is not None:
            return entry
        try:
            pipe = _load_pipeline(settings)
        except GeneratorError:
            raise
        except Exception as exc:
            if is_oom(exc):
                _free_accelerator_memory()
                raise ProviderError(f"local_diffusers: out of accelerator memory loading "
                                    f"{settings.path} on {settings.device}: {exc}",
                                    retry_after=30.0) from exc
            if isinstance(exc, (OSError, ValueError, TypeError, KeyError, AttributeError,
                                ImportError)):
                raise BadConfiguration(f"local_diffusers could not load a pipeline from "
                                       f"{settings.path}: {type(exc).__name__}: {exc}") from exc
            raise ProviderError(f"local_diffusers: loading {settings.path} failed: "
                                f"{type(exc).__name__}: {exc}") from exc
        entry = LoadedPipeline(settings, pipe)
        with _CACHE_LOCK:
            _CACHE[settings.key] = entry
        return entry


def cached_pipelines() -> dict[tuple[str, str, str], LoadedPipeline]:
    """A snapshot of the pipelines this process holds, keyed by (path, dtype, device)."""
    with _CACHE_LOCK:
        return dict(_CACHE)


def unload_all(*, collect: bool = True) -> None:
    """Drop every cached pipeline and free accelerator memory (tests, the bench).

    `collect` then runs a full garbage collection so CUDA memory is really returned; tests
    that reload tiny pipelines skip it (it costs about half a second with torch imported).
    """
    with _CACHE_LOCK:
        entries = list(_CACHE.values())
        _CACHE.clear()
    for entry in entries:
        entry.batcher.close()
        entry.pipe = None
    if entries and collect:
        import gc

        gc.collect()
        _free_accelerator_memory()


# ---------------------------------------------------------------------------- encoding
def encode_png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def encode_mp4(frames: list[Any], fps: int) -> bytes:
    """H.264 MP4 through diffusers' export_to_video (imageio + the ffmpeg from imageio-ffmpeg)."""
    from diffusers.utils import export_to_video
    from PIL import Image

    if not frames:
        raise ProviderError("local_diffusers: the pipeline returned no frames")
    with tempfile.TemporaryDirectory(prefix="local-diffusers-") as tmp:
        path = os.path.join(tmp, "out.mp4")
        try:
            # PIL frames: export_to_video would rescale float arrays itself. Sizes are
            # multiples of 8, so a macro block of 8 never resizes.
            export_to_video([Image.fromarray(f) for f in frames], path, fps=fps,
                            macro_block_size=8)
        except (ImportError, AttributeError) as exc:
            raise BadConfiguration("local_diffusers: writing MP4 needs imageio and "
                                   f"imageio-ffmpeg (requirements-gpu.txt): {exc}") from exc
        except Exception as exc:
            raise ProviderError(f"local_diffusers: MP4 encoding failed: {exc}") from exc
        return Path(path).read_bytes()


# ---------------------------------------------------------------------------- the generator
def _frame_count(wanted: float, options: Mapping[str, object]) -> int:
    multiple = int(options.get("frame_multiple") or 1)  # type: ignore[call-overload]
    offset = int(options.get("frame_offset") or 0)  # type: ignore[call-overload]
    top = int(options.get("max_frames") or DEFAULT_MAX_FRAMES)  # type: ignore[call-overload]
    k = max(0, round((wanted - offset) / multiple))
    while k > 0 and k * multiple + offset > top:
        k -= 1
    n = k * multiple + offset
    return n if n >= 1 else multiple + offset


class LocalDiffusersGenerator(Generator):
    """A diffusers pipeline from a local directory, run on this worker's GPU (or CPU)."""

    kind = KIND
    queue = "gpu"

    @classmethod
    def validate_config(cls, options: Mapping[str, object] | ProviderConfig) -> list[str]:
        """Problems with the options (admin form); checks the path on THIS machine's disk."""
        if isinstance(options, ProviderConfig):
            options = options.options
        return check_options(options or {})

    def generate(self, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        if request.modality not in ("image", "video"):
            raise BadConfiguration(f"local_diffusers makes images or video, not "
                                   f"{request.modality}")
        settings = resolve_settings(self.config.options)
        entry = get_pipeline(settings)
        if request.modality == "video" and not entry.is_video:
            raise BadConfiguration(f"local_diffusers: {entry.name} at {settings.path} makes "
                                   "images, not video")
        video = entry.is_video
        options = settings.options
        mapped: dict[str, dict[str, object]] = {}
        if request.modality != ("video" if video else "image"):
            note(mapped, "modality", request.modality, "video")

        kwargs: dict[str, Any] = dict(options.get("call_kwargs") or {})  # type: ignore[call-overload]
        width, height = self._size(request, entry, options, mapped)
        kwargs["width"], kwargs["height"] = width, height
        if settings.steps is not None:
            kwargs["num_inference_steps"] = settings.steps
        if settings.guidance is not None:
            kwargs["guidance_scale"] = settings.guidance
        used: dict[str, object] = {
            "model": self.config.model_id or Path(settings.path).name,
            "pipeline": entry.name, "width": width, "height": height, "seed": request.seed,
            "dtype": settings.dtype, "device": settings.device,
        }
        if settings.steps is not None:
            used["num_inference_steps"] = settings.steps
        if settings.guidance is not None:
            used["guidance_scale"] = settings.guidance
        fps = DEFAULT_FPS
        if video:
            fps = int(options.get("fps") or request.fps or DEFAULT_FPS)  # type: ignore[call-overload]
            note(mapped, "fps", request.fps, fps)
            if request.duration_s:
                kwargs["num_frames"] = _frame_count(request.duration_s * fps, options)
            elif options.get("num_frames"):
                kwargs["num_frames"] = int(options["num_frames"])  # type: ignore[call-overload]
            kwargs["output_type"] = "np"
        else:
            kwargs["output_type"] = "pil"
        kwargs = {k: v for k, v in kwargs.items() if entry.accepts(k)}

        job = Job(prompt=request.prompt, seed=int(request.seed), kwargs=kwargs,
                  max_batch=settings.max_batch, window_s=settings.window_s)
        future = entry.batcher.submit(job)
        # The deadline covers queueing and generation, not a first load of the model.
        try:
            out: Output = future.result(timeout=max(0.001, request.deadline_s))
        except TimeoutError:
            future.cancel()
            raise GenerationTimeout(f"local_diffusers: {entry.name} gave no output within "
                                    f"{request.deadline_s:g}s") from None
        if out.nsfw:
            raise ModerationRefused(f"local_diffusers: {entry.name}'s safety checker "
                                    "flagged the output")
        used["batch_size"] = out.batch_size
        if video:
            frames = out.item
            data = encode_mp4(frames, fps)
            used.update(num_frames=len(frames), fps=fps,
                        duration_s=round(len(frames) / fps, 3))
            if request.duration_s:
                note(mapped, "duration_s", request.duration_s, used["duration_s"])
            content_type = "video/mp4"
        else:
            data = encode_png(out.item)
            content_type = "image/png"
        return GenerationResult(content_type=content_type, data=data, used=used, mapped=mapped,
                                latency_s=time.perf_counter() - started,
                                cost=self.config.cost_per_output)

    @staticmethod
    def _size(request: GenerationRequest, entry: LoadedPipeline, options: Mapping[str, object],
              mapped: dict[str, dict[str, object]]) -> tuple[int, int]:
        """Requested size (or aspect) scaled into the model's box, in multiples of 8."""
        side = int(options.get("default_size") or entry.native_side)  # type: ignore[call-overload]
        multiple = int(options.get("size_multiple") or 8)  # type: ignore[call-overload]
        max_side = int(options.get("max_side") or DEFAULT_MAX_SIDE)  # type: ignore[call-overload]
        dims = requested_dims(request, default_area=side * side) or (side, side)
        width, height = fit_dims(*dims, multiple=multiple, min_side=multiple, max_side=max_side)
        note(mapped, "size", requested_label(request), size_str(width, height))
        return width, height
