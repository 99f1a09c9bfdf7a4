"""The worker glue: the Generator class the registry names, request sizes and frame
counts, PNG/MP4 encoding."""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generators.base import (
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    GenerationTimeout,
    Generator,
    ModerationRefused,
    ProviderConfig,
    ProviderError,
)
from generators.coerce import as_int, is_mapping
from generators.local_diffusers.options import (
    DEFAULT_FPS,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_SIDE,
    KIND,
    check_options,
    resolve_settings,
)
from generators.local_diffusers.pipelines import Job, LoadedPipeline, Output, get_pipeline
from generators.sizing import fit_dims, note, requested_dims, requested_label, size_str


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
            export_to_video([Image.fromarray(f) for f in frames], path, fps=fps, macro_block_size=8)
        except (ImportError, AttributeError) as exc:
            raise BadConfiguration(
                "local_diffusers: writing MP4 needs imageio and "
                f"imageio-ffmpeg (requirements-gpu.txt): {exc}"
            ) from exc
        except Exception as exc:
            raise ProviderError(f"local_diffusers: MP4 encoding failed: {exc}") from exc
        return Path(path).read_bytes()


def _frame_count(wanted: float, options: Mapping[str, object]) -> int:
    multiple = as_int(options.get("frame_multiple") or 1)
    offset = as_int(options.get("frame_offset") or 0)
    top = as_int(options.get("max_frames") or DEFAULT_MAX_FRAMES)
    k = max(0, round((wanted - offset) / multiple))
    while k > 0 and k * multiple + offset > top:
        k -= 1
    n = k * multiple + offset
    return n if n >= 1 else multiple + offset


class LocalDiffusersGenerator(Generator):
    """A diffusers pipeline from a local directory, run on this worker's GPU (or CPU)."""

    kind = KIND
    queue = "gpu"
    modalities = ("image", "video")  # which one depends on the pipeline at `path`

    @classmethod
    def validate_config(cls, options: Mapping[str, object] | ProviderConfig) -> list[str]:
        """Problems with the options (admin form); checks the path on THIS machine's disk."""
        if isinstance(options, ProviderConfig):
            options = options.options
        return check_options(options or {})

    def generate(self, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        if request.modality not in ("image", "video"):
            raise BadConfiguration(f"local_diffusers makes images or video, not {request.modality}")
        settings = resolve_settings(self.config.options)
        entry = get_pipeline(settings)
        if request.modality == "video" and not entry.is_video:
            raise BadConfiguration(
                f"local_diffusers: {entry.name} at {settings.path} makes images, not video"
            )
        video = entry.is_video
        options = settings.options
        mapped: dict[str, dict[str, object]] = {}
        if request.modality != ("video" if video else "image"):
            note(mapped, "modality", request.modality, "video")

        extra = options.get("call_kwargs")
        kwargs: dict[str, Any] = dict(extra) if is_mapping(extra) else {}
        width, height = self._size(request, entry, options, mapped)
        kwargs["width"], kwargs["height"] = width, height
        if settings.steps is not None:
            kwargs["num_inference_steps"] = settings.steps
        if settings.guidance is not None:
            kwargs["guidance_scale"] = settings.guidance
        used: dict[str, object] = {
            "model": self.config.model_id or Path(settings.path).name,
            "pipeline": entry.name,
            "width": width,
            "height": height,
            "seed": request.seed,
            "dtype": settings.dtype,
            "device": settings.device,
        }
        if settings.steps is not None:
            used["num_inference_steps"] = settings.steps
        if settings.guidance is not None:
            used["guidance_scale"] = settings.guidance
        fps = DEFAULT_FPS
        if video:
            fps = as_int(options.get("fps") or request.fps or DEFAULT_FPS)
            note(mapped, "fps", request.fps, fps)
            if request.duration_s:
                kwargs["num_frames"] = _frame_count(request.duration_s * fps, options)
            elif options.get("num_frames"):
                kwargs["num_frames"] = as_int(options["num_frames"])
            kwargs["output_type"] = "np"
        else:
            kwargs["output_type"] = "pil"
        kwargs = {k: v for k, v in kwargs.items() if entry.accepts(k)}

        job = Job(
            prompt=request.prompt,
            seed=int(request.seed),
            kwargs=kwargs,
            max_batch=settings.max_batch,
            window_s=settings.window_s,
        )
        future = entry.batcher.submit(job)
        # The deadline covers queueing and generation, not a first load of the model.
        try:
            out: Output = future.result(timeout=max(0.001, request.deadline_s))
        except TimeoutError:
            future.cancel()
            raise GenerationTimeout(
                f"local_diffusers: {entry.name} gave no output within {request.deadline_s:g}s"
            ) from None
        if out.nsfw:
            raise ModerationRefused(
                f"local_diffusers: {entry.name}'s safety checker flagged the output"
            )
        used["batch_size"] = out.batch_size
        if video:
            frames = out.item
            data = encode_mp4(frames, fps)
            used.update(num_frames=len(frames), fps=fps, duration_s=round(len(frames) / fps, 3))
            if request.duration_s:
                note(mapped, "duration_s", request.duration_s, used["duration_s"])
            content_type = "video/mp4"
        else:
            data = encode_png(out.item)
            content_type = "image/png"
        return GenerationResult(
            content_type=content_type,
            data=data,
            used=used,
            mapped=mapped,
            latency_s=time.perf_counter() - started,
            cost=self.config.cost_per_output,
        )

    @staticmethod
    def _size(
        request: GenerationRequest,
        entry: LoadedPipeline,
        options: Mapping[str, object],
        mapped: dict[str, dict[str, object]],
    ) -> tuple[int, int]:
        """Requested size (or aspect) scaled into the model's box, in multiples of 8."""
        side = as_int(options.get("default_size") or entry.native_side)
        multiple = as_int(options.get("size_multiple") or 8)
        max_side = as_int(options.get("max_side") or DEFAULT_MAX_SIDE)
        dims = requested_dims(request, default_area=side * side) or (side, side)
        width, height = fit_dims(*dims, multiple=multiple, min_side=multiple, max_side=max_side)
        note(mapped, "size", requested_label(request), size_str(width, height))
        return width, height
