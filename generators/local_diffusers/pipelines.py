"""Loading a pipeline from a local directory, running one batch through it, and the
per-process cache keyed by (path, dtype, device)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.base import (
    BadConfiguration,
    GeneratorError,
    ProviderError,
)
from generators.local_diffusers.batching import Job, MicroBatcher
from generators.local_diffusers.device import (
    _free_accelerator_memory,
    import_diffusers,
    import_torch,
    is_oom,
)
from generators.local_diffusers.options import FALLBACK_SIDE, Settings

log = logging.getLogger(__name__)


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
    scale = (
        getattr(pipe, "vae_scale_factor", None)
        or getattr(pipe, "vae_scale_factor_spatial", None)
        or 8
    )
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
    dtype_kw = (
        "dtype" if hasattr(diffusers.utils.deprecation_utils, "_resolve_dtype") else "torch_dtype"
    )
    started = time.perf_counter()
    pipe = diffusers.DiffusionPipeline.from_pretrained(
        settings.path, local_files_only=True, **{dtype_kw: dtype}
    )
    pipe = pipe.to(settings.device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    log.info(
        "local_diffusers: loaded %s (%s) as %s on %s in %.1fs",
        settings.path,
        type(pipe).__name__,
        settings.dtype,
        settings.device,
        time.perf_counter() - started,
    )
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
        kwargs["generator"] = [
            torch.Generator(self.device).manual_seed(job.seed % 2**64) for job in jobs
        ]
        try:
            out = self.pipe(**kwargs)
        except Exception as exc:
            if is_oom(exc):
                _free_accelerator_memory()
                if len(jobs) > 1:
                    log.warning(
                        "local_diffusers: OOM on a batch of %d; running them one by one", len(jobs)
                    )
                    return [self.run_batch([job])[0] for job in jobs]
                return [
                    ProviderError(
                        f"local_diffusers: out of accelerator memory on "
                        f"{self.device} ({self.name}): {exc}",
                        retry_after=5.0,
                    )
                ]
            if isinstance(exc, (ValueError, TypeError)):
                # The pipeline refused its arguments: the same request would fail again.
                return [
                    BadConfiguration(f"local_diffusers: {self.name} rejected the call: {exc}")
                    for _ in jobs
                ]
            return [
                ProviderError(f"local_diffusers: {self.name} failed: {type(exc).__name__}: {exc}")
                for _ in jobs
            ]
        items = self._split(out, len(jobs))
        nsfw = getattr(out, "nsfw_content_detected", None) or [False] * len(jobs)
        return [
            Output(item=item, batch_size=len(jobs), nsfw=bool(flag))
            for item, flag in zip(items, nsfw, strict=False)
        ]

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
                raise ProviderError(
                    f"local_diffusers: out of accelerator memory loading "
                    f"{settings.path} on {settings.device}: {exc}",
                    retry_after=30.0,
                ) from exc
            if isinstance(
                exc, (OSError, ValueError, TypeError, KeyError, AttributeError, ImportError)
            ):
                raise BadConfiguration(
                    f"local_diffusers could not load a pipeline from "
                    f"{settings.path}: {type(exc).__name__}: {exc}"
                ) from exc
            raise ProviderError(
                f"local_diffusers: loading {settings.path} failed: {type(exc).__name__}: {exc}"
            ) from exc
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
