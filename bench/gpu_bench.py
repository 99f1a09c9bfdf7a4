"""Throughput and latency of local_diffusers per batch size, through the generator's own code.

    .venv/bin/python bench/gpu_bench.py MODEL_DIR [--batch-sizes 1,2,4,8] [--steps 20]
        [--size 512] [--device cuda] [--dtype float16] [--rounds 3]
    .venv/bin/python bench/gpu_bench.py --tiny --allow-cpu          # smoke run, no model dir
    .venv/bin/python bench/gpu_bench.py --random-sd15 --size 512    # SD 1.5 shapes, random weights

For each batch size B it fires B concurrent `LocalDiffusersGenerator.generate` calls from B
threads (so the micro-batcher forms batches of B, as concurrent Celery tasks would), one
untimed warm-up round first, then `--rounds` timed rounds. It reports images per second,
per-request latency (queue + pipeline + PNG encoding), the batch sizes the batcher really
formed and the peak GPU memory. The pipeline is loaded once and stays cached across batch
sizes, as in a worker.

Without a CUDA device it prints why it skips and exits 0, unless `--allow-cpu` is given.
`--tiny` builds the tiny random test pipeline in a temporary directory; `--random-sd15` builds
a randomly initialised pipeline with Stable Diffusion 1.5's shapes (about 1 B parameters), for
throughput only, since no real weights can be fetched on machines without the Hub.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from generators import local_diffusers as ld  # noqa: E402
from generators.base import GenerationRequest, GenerationResult, ProviderConfig  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", nargs="?", help="local diffusers pipeline directory")
    parser.add_argument(
        "--batch-sizes", default="1,2,4,8", help="comma-separated batch sizes (default 1,2,4,8)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="inference steps (default 20; 2 with --tiny)"
    )
    parser.add_argument(
        "--size", type=int, default=None, help="square image side (default 512; 64 with --tiny)"
    )
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    parser.add_argument(
        "--dtype",
        default=None,
        help="float16 | bfloat16 | float32 (default float16 on CUDA, float32 on CPU)",
    )
    parser.add_argument("--guidance-scale", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per batch size")
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="run on the CPU when no CUDA device is there (smoke runs)",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="build the tiny random test pipeline in a temp dir and use it",
    )
    parser.add_argument(
        "--random-sd15",
        action="store_true",
        help="build a random-weight pipeline with SD 1.5 shapes and use it",
    )
    args = parser.parse_args(argv)
    if not (args.model_dir or args.tiny or args.random_sd15):
        parser.error("give MODEL_DIR, --tiny or --random-sd15")
    try:
        args.batch_sizes = sorted({int(b) for b in args.batch_sizes.split(",") if b.strip()})
    except ValueError:
        parser.error(f"--batch-sizes must be integers, not {args.batch_sizes!r}")
    if not args.batch_sizes or min(args.batch_sizes) < 1:
        parser.error("--batch-sizes must be positive")
    small = args.tiny and not args.model_dir
    args.steps = args.steps or (2 if small else 20)
    args.size = args.size or (64 if small else 512)
    return args


def pick_device(args: argparse.Namespace) -> str | None:
    """The device to run on, or None (after saying why) when the bench should skip."""
    try:
        import torch
    except ImportError:
        print("SKIP: torch is not installed (pip install -r requirements-gpu.txt)")
        return None
    cuda = torch.cuda.is_available()
    if args.device.startswith("cuda") and cuda:
        return str(args.device)
    if args.allow_cpu:
        if args.device.startswith("cuda"):
            print("no CUDA device; --allow-cpu given, so running on the CPU (smoke run)")
        return "cpu"
    why = "no CUDA device is available" if not cuda else f"--device {args.device}"
    print(
        f"SKIP: {why} (torch {torch.__version__}, cuda available: {cuda}); "
        "this benchmark measures GPU throughput. Pass --allow-cpu for a CPU smoke run."
    )
    return None


def build_random_sd15(directory: Path) -> Path:
    """StableDiffusionPipeline with SD 1.5's component shapes and random weights."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.generators.tiny_pipelines import tiny_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        sample_size=512,
        layers_per_block=2,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=2,
            pad_token_id=1,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tiny_tokenizer(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(directory))
    return directory


def run_round(
    generator: ld.LocalDiffusersGenerator, batch: int, size: int, seed0: int
) -> tuple[float, list[GenerationResult]]:
    requests = [
        GenerationRequest(
            prompt=f"a lighthouse at dusk, study {i}",
            seed=seed0 + i,
            width=size,
            height=size,
            deadline_s=3600.0,
        )
        for i in range(batch)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=batch) as pool:
        results = list(pool.map(generator.generate, requests))
    return time.perf_counter() - started, results


def _peak_gib(device: str) -> float | None:
    import torch

    if not device.startswith("cuda"):
        return None
    return torch.cuda.max_memory_allocated(torch.device(device)) / 2**30


def _reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))
        torch.cuda.reset_peak_memory_stats(torch.device(device))


def bench(args: argparse.Namespace, model_dir: str, device: str) -> list[dict[str, Any]]:
    import torch

    options: dict[str, object] = {
        "path": model_dir,
        "device": device,
        "num_inference_steps": args.steps,
        "batch_window_ms": 2000.0,
    }
    if args.dtype:
        options["dtype"] = args.dtype
    if args.guidance_scale is not None:
        options["guidance_scale"] = args.guidance_scale
    problems = ld.check_options(options)
    if problems:
        raise SystemExit("; ".join(problems))

    def generator(batch: int) -> ld.LocalDiffusersGenerator:
        return ld.LocalDiffusersGenerator(
            ProviderConfig(kind="local_diffusers", options={**options, "max_batch": batch})
        )

    started = time.perf_counter()
    first = generator(1).generate(
        GenerationRequest(prompt="warm-up", width=args.size, height=args.size, deadline_s=3600.0)
    )
    load_s = time.perf_counter() - started
    entry = next(iter(ld.cached_pipelines().values()))
    name = (
        torch.cuda.get_device_name(torch.device(device))
        if device.startswith("cuda")
        else (platform.processor() or platform.machine())
    )
    print(f"model    {model_dir} ({entry.name})")
    print(f"device   {device} ({name}), dtype {first.used['dtype']}, torch {torch.__version__}")
    print(
        f"request  {first.used['width']}x{first.used['height']}, {args.steps} steps, "
        f"{args.rounds} timed round(s) per batch size"
    )
    print(f"load + first image {load_s:.2f}s")
    print()

    rows: list[dict[str, Any]] = []
    seed = 1000
    for batch in args.batch_sizes:
        gen = generator(batch)
        run_round(gen, batch, args.size, seed)  # warm-up: kernels and allocator for this shape
        seed += batch
        _reset_peak(device)
        formed_from = len(entry.batcher.batch_sizes)
        walls: list[float] = []
        latencies: list[float] = []
        for _ in range(args.rounds):
            wall, results = run_round(gen, batch, args.size, seed)
            seed += batch
            walls.append(wall)
            latencies.extend(r.latency_s for r in results)
        formed = entry.batcher.batch_sizes[formed_from:]
        total = batch * args.rounds
        rows.append(
            {
                "batch": batch,
                "images": total,
                "images_per_s": total / sum(walls),
                "latency_p50": statistics.median(latencies),
                "latency_max": max(latencies),
                "round_s": statistics.median(walls),
                "formed": sorted(set(formed)),
                "peak_gib": _peak_gib(device),
            }
        )
        print_row(rows[-1], header=len(rows) == 1)
    return rows


def print_row(row: dict[str, Any], *, header: bool) -> None:
    if header:
        print(
            f"{'batch':>5} {'images':>6} {'img/s':>8} {'lat p50 s':>10} {'lat max s':>10} "
            f"{'round s':>8} {'formed':>8} {'peak GiB':>9}"
        )
    peak = f"{row['peak_gib']:.2f}" if row["peak_gib"] is not None else "-"
    formed = ",".join(str(b) for b in row["formed"])
    print(
        f"{row['batch']:>5} {row['images']:>6} {row['images_per_s']:>8.2f} "
        f"{row['latency_p50']:>10.3f} {row['latency_max']:>10.3f} {row['round_s']:>8.3f} "
        f"{formed:>8} {peak:>9}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = pick_device(args)
    if device is None:
        return 0
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as tmp:
        model_dir = args.model_dir
        if not model_dir and args.tiny:
            from tests.generators.tiny_pipelines import build_tiny_sd

            model_dir = str(build_tiny_sd(Path(tmp) / "tiny-sd"))
        elif not model_dir:
            print("building a random-weight SD 1.5-shaped pipeline (a few GB of disk)...")
            model_dir = str(build_random_sd15(Path(tmp) / "random-sd15"))
        try:
            bench(args, model_dir, device)
        finally:
            ld.unload_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
