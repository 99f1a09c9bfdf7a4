"""torch and diffusers, imported lazily (never in the web process), and the accelerator:
out-of-memory detection and freeing memory."""

from __future__ import annotations

import logging
import os
from typing import Any

from generators.base import BadConfiguration

log = logging.getLogger(__name__)


def import_torch() -> Any:
    """torch, imported on first use only (never in the web process)."""
    try:
        import torch
    except ImportError as exc:
        raise BadConfiguration(
            "local_diffusers needs torch and diffusers on the GPU worker: "
            f"pip install -r requirements-gpu.txt ({exc})"
        ) from exc
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
            f"pip install -r requirements-gpu.txt ({exc})"
        ) from exc
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
