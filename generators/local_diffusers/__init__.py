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

The package, one screen per file: ``options`` (checking and resolving them), ``device`` (lazy
torch/diffusers imports, accelerator memory), ``batching`` (the micro-batcher), ``pipelines``
(loading, running a batch, the per-process cache), ``generator`` (the Generator class, sizes,
encoding). The names below are the public surface, as when this was one module.
"""

from __future__ import annotations

from generators.local_diffusers.batching import Job, MicroBatcher
from generators.local_diffusers.device import import_diffusers, import_torch, is_oom
from generators.local_diffusers.generator import (
    LocalDiffusersGenerator,
    _frame_count,
    encode_mp4,
    encode_png,
)
from generators.local_diffusers.options import (
    DEFAULT_FPS,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_SIDE,
    DEFAULT_WINDOW_MS,
    DTYPES,
    FALLBACK_SIDE,
    KIND,
    PATH_HELP,
    Settings,
    check_options,
    resolve_settings,
)
from generators.local_diffusers.pipelines import (
    LoadedPipeline,
    Output,
    cached_pipelines,
    get_pipeline,
    unload_all,
)

__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_SIDE",
    "DEFAULT_WINDOW_MS",
    "DTYPES",
    "FALLBACK_SIDE",
    "KIND",
    "PATH_HELP",
    "Job",
    "LoadedPipeline",
    "LocalDiffusersGenerator",
    "MicroBatcher",
    "Output",
    "Settings",
    "_frame_count",
    "cached_pipelines",
    "check_options",
    "encode_mp4",
    "encode_png",
    "get_pipeline",
    "import_diffusers",
    "import_torch",
    "is_oom",
    "resolve_settings",
    "unload_all",
]
