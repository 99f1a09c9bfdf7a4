"""local_diffusers through the real loading and generation code, on tiny random pipelines (CPU).

The pipelines are built once per session, saved with `save_pretrained` and loaded back with
`DiffusionPipeline.from_pretrained(dir, local_files_only=True)` by the generator itself, so
these tests cover the production path: caching, seeding, sizing, batching, MP4 writing and
the typed errors. Two inference steps keep every call well under a second.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch", reason="local_diffusers tests need torch (CPU build is enough)")
pytest.importorskip("diffusers", reason="local_diffusers tests need diffusers")
pytest.importorskip("transformers", reason="local_diffusers tests need transformers")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from generators import local_diffusers as ld  # noqa: E402
from generators.base import (  # noqa: E402
    REGISTRY,
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    GenerationTimeout,
    ModerationRefused,
    ProviderConfig,
    ProviderError,
    generator_class,
    get_generator,
)
from tests.generators.tiny_pipelines import build_tiny_sd, build_tiny_video  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("tiny-diffusers")
    return {"sd": build_tiny_sd(base / "sd"), "video": build_tiny_video(base / "video")}


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test loads what it needs, so load counts and batch statistics are its own."""
    ld.unload_all(collect=False)
    yield
    ld.unload_all(collect=False)


def make(path: Path | str, **options: Any) -> ld.LocalDiffusersGenerator:
    options = {"path": str(path), "num_inference_steps": 2, "device": "cpu", **options}
    gen = get_generator(ProviderConfig(kind="local_diffusers", model_id="tiny", options=options))
    assert isinstance(gen, ld.LocalDiffusersGenerator)
    return gen


def png(result: GenerationResult) -> Image.Image:
    assert result.content_type == "image/png"
    assert result.data[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(result.data))
    img.load()
    return img


def pixels(result: GenerationResult) -> np.ndarray:
    return np.asarray(png(result).convert("RGB")).astype(np.int16)


def entry() -> ld.LoadedPipeline:
    (only,) = ld.cached_pipelines().values()
    return only


# ---------------------------------------------------------------------------- wiring, config
def test_registered_on_the_gpu_queue() -> None:
    assert REGISTRY["local_diffusers"] == "generators.local_diffusers:LocalDiffusersGenerator"
    cls = generator_class("local_diffusers")
    assert cls is ld.LocalDiffusersGenerator
    assert cls.kind == "local_diffusers" and cls.queue == "gpu"


def test_importing_the_module_does_not_import_torch() -> None:
    code = (
        "import sys; from generators.base import generator_class; "
        "cls = generator_class('local_diffusers'); cls.validate_config({}); "
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_validate_config_messages(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    validate = ld.LocalDiffusersGenerator.validate_config
    assert validate({}) == [ld.PATH_HELP]
    assert "options.path" in ld.PATH_HELP and "model_index.json" in ld.PATH_HELP
    assert validate({"path": "  "}) == [ld.PATH_HELP]
    assert validate({"path": "/no/such/dir"}) == ["path /no/such/dir does not exist"]
    (tmp_path / "file").write_text("x")
    assert validate({"path": str(tmp_path / "file")}) == [
        f"path {tmp_path / 'file'} is not a directory"
    ]
    assert validate({"path": str(tmp_path)}) == [f"no model_index.json in {tmp_path}"]
    good = {"path": str(tiny_models["sd"])}
    assert validate(good) == []
    assert validate(ProviderConfig(kind="local_diffusers", options=good)) == []
    assert (
        validate(
            {
                **good,
                "dtype": "bf16",
                "device": "cuda:1",
                "max_batch": 8,
                "guidance_scale": 7.5,
                "fps": 8,
                "call_kwargs": {"eta": 0.0},
            }
        )
        == []
    )
    problems = validate(
        {
            **good,
            "dtype": "int8",
            "device": "tpu",
            "max_batch": 0,
            "num_inference_steps": "many",
            "guidance_scale": -1,
            "call_kwargs": {"prompt": "x"},
        }
    )
    assert problems == [
        "dtype must be one of float16, bfloat16, float32, not 'int8'",
        "device must be cpu, cuda or cuda:N, not 'tpu'",
        "options.num_inference_steps must be a whole number from 1 to 1000, not 'many'",
        "options.max_batch must be a whole number from 1 to 256, not 0",
        "options.guidance_scale must be a number from 0 to 100, not -1",
        "options.call_kwargs may not set prompt (they come from the request or have their "
        "own option)",
    ]


def test_bad_path_is_bad_configuration(tmp_path: Path) -> None:
    with pytest.raises(BadConfiguration, match="does not exist") as info:
        make(tmp_path / "missing").generate(GenerationRequest(prompt="x"))
    assert info.value.permanent
    with pytest.raises(BadConfiguration, match=r"no model_index\.json"):
        make(tmp_path).generate(GenerationRequest(prompt="x"))
    with pytest.raises(BadConfiguration, match="options.path"):
        get_generator(ProviderConfig(kind="local_diffusers")).generate(
            GenerationRequest(prompt="x")
        )


def test_unloadable_directory_is_bad_configuration(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "_diffusers_version": "0.42.1",
                "unet": ["diffusers", "UNet2DConditionModel"],
            }
        )
    )
    with pytest.raises(BadConfiguration, match="could not load a pipeline") as info:
        make(tmp_path).generate(GenerationRequest(prompt="x"))
    assert info.value.permanent
    assert ld.cached_pipelines() == {}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_device_without_cuda_is_bad_configuration(tiny_models: dict[str, Path]) -> None:
    with pytest.raises(BadConfiguration, match="no CUDA device"):
        make(tiny_models["sd"], device="cuda").generate(GenerationRequest(prompt="x"))


def test_text_and_mismatched_modalities(tiny_models: dict[str, Path]) -> None:
    with pytest.raises(BadConfiguration, match="not text"):
        make(tiny_models["sd"]).generate(GenerationRequest(prompt="x", modality="text"))
    with pytest.raises(BadConfiguration, match="makes images, not video"):
        make(tiny_models["sd"]).generate(GenerationRequest(prompt="x", modality="video"))


# ---------------------------------------------------------------------------- images
def test_png_of_the_requested_size(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["sd"])
    result = gen.generate(GenerationRequest(prompt="a red fox", seed=3, width=64, height=64))
    assert png(result).size == (64, 64)
    assert result.mapped == {}
    assert result.used["seed"] == 3 and result.used["batch_size"] == 1
    assert result.used["dtype"] == "float32" and result.used["device"] == "cpu"
    assert result.used["pipeline"] == "StableDiffusionPipeline"
    assert result.latency_s > 0

    odd = gen.generate(GenerationRequest(prompt="a red fox", seed=3, width=70, height=50))
    assert png(odd).size == (72, 48)
    assert odd.mapped == {"size": {"requested": "70x50", "used": "72x48"}}

    native = gen.generate(GenerationRequest(prompt="a red fox"))
    assert png(native).size == (64, 64)  # sample_size 32 x VAE scale 2


def test_same_seed_same_bytes_other_seed_differs(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["sd"])
    request = GenerationRequest(prompt="a blue lake", seed=11, width=64, height=64)
    first, again = gen.generate(request), gen.generate(request)
    other = gen.generate(GenerationRequest(prompt="a blue lake", seed=12, width=64, height=64))
    assert first.data == again.data
    assert first.data != other.data
    # Seeds outside torch's range still work (taken modulo 2**64).
    wrapped = gen.generate(
        GenerationRequest(prompt="a blue lake", seed=11 + 2**64, width=64, height=64)
    )
    assert wrapped.data == first.data and wrapped.used["seed"] == 11 + 2**64


def test_pipeline_is_loaded_once_per_process(
    tiny_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    real = ld.pipelines._load_pipeline

    def counting(settings: ld.Settings) -> Any:
        loads.append(settings.path)
        return real(settings)

    monkeypatch.setattr(ld.pipelines, "_load_pipeline", counting)
    request = GenerationRequest(prompt="x", width=64, height=64)
    make(tiny_models["sd"]).generate(request)
    make(tiny_models["sd"]).generate(request)  # a new Generator instance, as in a new task
    make(tiny_models["sd"], max_batch=2).generate(request)  # same (path, dtype, device)
    assert len(loads) == 1
    make(tiny_models["sd"], dtype="bfloat16").generate(request)  # another key
    assert len(loads) == 2

    # Threads racing for a cold pipeline still load it once.
    ld.unload_all()
    loads.clear()
    threads = [
        threading.Thread(target=make(tiny_models["sd"]).generate, args=(request,)) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1


def test_concurrent_requests_are_batched(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["sd"], max_batch=4, batch_window_ms=300)
    n = 8
    requests = [
        GenerationRequest(prompt=f"prompt {i}", seed=100 + i, width=64, height=64) for i in range(n)
    ]
    results: list[GenerationResult | None] = [None] * n
    barrier = threading.Barrier(n)

    def call(i: int) -> None:
        barrier.wait()
        results[i] = gen.generate(requests[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    sizes = entry().batcher.batch_sizes
    assert sum(sizes) == n
    assert len(sizes) < n and max(sizes) <= 4
    assert all(r is not None for r in results)
    done = [r for r in results if r is not None]
    assert any(int(r.used["batch_size"]) > 1 for r in done)  # type: ignore[call-overload]
    assert len({r.data for r in done}) == n
    # Each caller got its own prompt/seed: the same image (up to float noise of a batched
    # matmul) as the request made alone.
    alone = make(tiny_models["sd"], max_batch=1)
    for request, result in zip(requests[:3], done[:3], strict=True):
        assert png(result).size == (64, 64)
        solo = alone.generate(request)
        assert int(np.abs(pixels(result) - pixels(solo)).max()) <= 2


def test_batches_only_share_call_parameters(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["sd"], max_batch=4, batch_window_ms=300)
    sizes = [(64, 64), (48, 48), (64, 64), (48, 48)]
    results: dict[int, GenerationResult] = {}
    barrier = threading.Barrier(len(sizes))

    def call(i: int) -> None:
        barrier.wait()
        w, h = sizes[i]
        results[i] = gen.generate(GenerationRequest(prompt="x", seed=i, width=w, height=h))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(sizes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for i, size in enumerate(sizes):
        assert png(results[i]).size == size
    assert sum(entry().batcher.batch_sizes) == 4 and len(entry().batcher.batch_sizes) >= 2


# ---------------------------------------------------------------------------- video
def test_video_pipeline_writes_mp4(tiny_models: dict[str, Path]) -> None:
    import imageio.v3 as iio

    gen = make(tiny_models["video"])
    result = gen.generate(
        GenerationRequest(prompt="a cat", modality="video", seed=1, duration_s=1.0, fps=8)
    )
    assert result.content_type == "video/mp4"
    assert result.data[4:8] == b"ftyp"
    assert result.used["num_frames"] == 8 and result.used["fps"] == 8
    assert result.used["duration_s"] == 1.0
    assert result.mapped == {}
    frames = iio.imread(result.data, extension=".mp4")  # decoded by imageio-ffmpeg's ffmpeg
    assert frames.shape[0] == 8 and frames.shape[1:3] == (32, 32)


def test_video_duration_and_fps_are_mapped(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["video"], fps=4, max_frames=6)
    result = gen.generate(
        GenerationRequest(prompt="a cat", modality="video", seed=1, duration_s=2.0, fps=24)
    )
    assert result.data[4:8] == b"ftyp"
    assert result.used["num_frames"] == 6
    assert result.mapped == {
        "fps": {"requested": 24, "used": 4},
        "duration_s": {"requested": 2.0, "used": 1.5},
    }
    # An image request to a video pipeline still gets its video (and says so).
    image_req = make(tiny_models["video"], num_frames=3).generate(
        GenerationRequest(prompt="a cat", seed=1)
    )
    assert image_req.content_type == "video/mp4" and image_req.used["num_frames"] == 3
    assert image_req.mapped["modality"] == {"requested": "image", "used": "video"}


def test_frame_counts_follow_the_models_rule() -> None:
    assert ld._frame_count(16, {}) == 16
    assert ld._frame_count(16, {"frame_multiple": 4, "frame_offset": 1}) == 17
    assert ld._frame_count(100, {"frame_multiple": 4, "frame_offset": 1, "max_frames": 81}) == 81
    assert ld._frame_count(0.2, {}) == 1


# ---------------------------------------------------------------------------- errors
class _Wrapped:
    """The real pipeline behind a hook, to inject failures into the batcher's call."""

    def __init__(self, pipe: Any, hook: Any) -> None:
        self.pipe, self.hook = pipe, hook
        self.prompts: list[list[str]] = []

    def __call__(self, **kwargs: Any) -> Any:
        self.prompts.append(list(kwargs["prompt"]))
        self.hook(kwargs)
        return self.pipe(**kwargs)


def _oom() -> BaseException:
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_oom_is_a_retryable_provider_error(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["sd"])
    request = GenerationRequest(prompt="x", width=64, height=64)
    gen.generate(request)

    def always(kwargs: dict[str, Any]) -> None:
        raise _oom()

    entry().pipe = _Wrapped(entry().pipe, always)
    with pytest.raises(ProviderError, match="out of accelerator memory") as info:
        gen.generate(request)
    assert not info.value.permanent and type(info.value) is ProviderError


def test_oom_on_a_batch_runs_its_items_one_by_one(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["sd"], max_batch=4, batch_window_ms=300)
    gen.generate(GenerationRequest(prompt="warm", width=64, height=64))

    def big_batches(kwargs: dict[str, Any]) -> None:
        if len(kwargs["prompt"]) > 1:
            raise _oom()

    wrapped = _Wrapped(entry().pipe, big_batches)
    entry().pipe = wrapped
    results: list[GenerationResult] = []
    barrier = threading.Barrier(3)

    def call(i: int) -> None:
        barrier.wait()
        results.append(gen.generate(GenerationRequest(prompt=f"p{i}", seed=i, width=64, height=64)))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 3
    assert any(len(p) > 1 for p in wrapped.prompts)  # the batch was tried...
    assert sum(len(p) == 1 for p in wrapped.prompts) >= 3  # ...then split


def test_pipeline_errors_are_typed(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["sd"])
    request = GenerationRequest(prompt="x", width=64, height=64)
    gen.generate(request)
    real = entry().pipe

    def bad_args(kwargs: dict[str, Any]) -> None:
        raise ValueError("`height` and `width` have to be divisible by 8")

    entry().pipe = _Wrapped(real, bad_args)
    with pytest.raises(BadConfiguration, match="rejected the call"):
        gen.generate(request)

    def crash(kwargs: dict[str, Any]) -> None:
        raise RuntimeError("cuDNN error: CUDNN_STATUS_INTERNAL_ERROR")

    entry().pipe = _Wrapped(real, crash)
    with pytest.raises(ProviderError, match="CUDNN_STATUS") as info:
        gen.generate(request)
    assert not info.value.permanent

    class Flagged:
        def __init__(self, images: list[Any]) -> None:
            self.images, self.nsfw_content_detected = images, [True]

    entry().pipe = lambda **kw: Flagged(real(**kw).images)
    with pytest.raises(ModerationRefused):
        gen.generate(request)


def test_deadline_gives_a_timeout(tiny_models: dict[str, Path]) -> None:
    gen = make(tiny_models["sd"])
    gen.generate(GenerationRequest(prompt="x", width=64, height=64))
    entry().pipe = _Wrapped(entry().pipe, lambda kwargs: time.sleep(0.6))
    started = time.monotonic()
    with pytest.raises(GenerationTimeout):
        gen.generate(GenerationRequest(prompt="x", width=64, height=64, deadline_s=0.2))
    assert time.monotonic() - started < 0.5


# ---------------------------------------------------------------------------- micro-batcher
def _job(
    prompt: str, *, max_batch: int = 4, window_s: float = 0.05, kwargs: dict[str, Any] | None = None
) -> ld.Job:
    return ld.Job(
        prompt=prompt, seed=0, kwargs=kwargs or {"width": 8}, max_batch=max_batch, window_s=window_s
    )


def test_micro_batcher_windows_limits_and_errors() -> None:
    calls: list[list[str]] = []
    gate = threading.Event()

    def run(jobs: list[ld.Job]) -> list[Any]:
        gate.wait(5)
        calls.append([j.prompt for j in jobs])
        return [ValueError("no") if j.prompt == "bad" else j.prompt.upper() for j in jobs]

    batcher = ld.MicroBatcher("test", run)
    try:
        gate.set()
        assert batcher.submit(_job("alone", window_s=0.0)).result(5) == "ALONE"
        gate.clear()  # hold the worker in a call so the next jobs pile up
        blocker = batcher.submit(_job("blocker", window_s=0.0))
        time.sleep(0.05)
        futures = [batcher.submit(_job(p, max_batch=2)) for p in ("a", "b", "c")]
        other = batcher.submit(_job("big", kwargs={"width": 16}))
        bad = batcher.submit(_job("bad"))
        gate.set()
        assert blocker.result(5) == "BLOCKER"
        assert [f.result(5) for f in futures] == ["A", "B", "C"]
        assert other.result(5) == "BIG"
        with pytest.raises(ValueError, match="no"):
            bad.result(5)
        assert calls[:2] == [["alone"], ["blocker"]]
        assert ["a", "b"] in calls  # max_batch of the first job
        assert ["big"] in calls  # other parameters never join a batch
        assert ["c", "bad"] in calls
        assert batcher.batch_sizes == [len(c) for c in calls]
    finally:
        gate.set()
        batcher.close()
    with pytest.raises(ProviderError, match="unloaded"):
        batcher.submit(_job("late"))


def test_micro_batcher_survives_a_crash_and_skips_cancelled_jobs() -> None:
    gate = threading.Event()
    seen: list[str] = []

    def run(jobs: list[ld.Job]) -> list[Any]:
        gate.wait(5)
        seen.extend(j.prompt for j in jobs)
        if jobs[0].prompt == "boom":
            raise KeyError("boom")
        return [j.prompt for j in jobs]

    batcher = ld.MicroBatcher("test", run)
    try:
        first = batcher.submit(_job("first", window_s=0.0))
        time.sleep(0.05)
        gone = batcher.submit(_job("gone", window_s=0.0, kwargs={"x": 1}))
        assert gone.cancel()
        boom = batcher.submit(_job("boom", window_s=0.0, kwargs={"x": 2}))
        gate.set()
        assert first.result(5) == "first"
        with pytest.raises(ProviderError, match="KeyError"):
            boom.result(5)
        assert batcher.submit(_job("after", window_s=0.0)).result(5) == "after"
        assert "gone" not in seen
    finally:
        gate.set()
        batcher.close()
