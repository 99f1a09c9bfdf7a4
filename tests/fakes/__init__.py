"""Fake provider servers speaking each provider's real HTTP protocol, for tests.

In a test (thread)::

    from tests.fakes import BFLFake, start_fake
    server = start_fake(BFLFake())          # server.base_url = "http://127.0.0.1:PORT"
    ...; server.stop()

From another process::

    proc, base = spawn_fake("openai")       # runs `python -m tests.fakes openai --port 0`
    # ProviderConfig(kind="openai_images", base_url=base, api_key="test-key")
    proc.terminate()
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.fakes.azure import AzureSoraFake
from tests.fakes.bfl import BFLFake
from tests.fakes.fal import FalFake
from tests.fakes.generic import GenericFake
from tests.fakes.google import GoogleFake
from tests.fakes.openai import OpenAIImagesFake, OpenAIVideoFake
from tests.fakes.replicate import ReplicateFake
from tests.fakes.server import (
    FakeProviderServer,
    ProviderFake,
    Recorded,
    Reply,
    mp4_bytes,
    png_bytes,
    start_fake,
)
from tests.fakes.stability import StabilityFake

# CLI name -> fake factory (accepting api_key=...)
FAKES: dict[str, Callable[..., ProviderFake]] = {
    "openai": OpenAIImagesFake,  # kind openai_images (and generic_http with path /images/…)
    "azure_openai": functools.partial(OpenAIImagesFake, azure=True),  # azure_openai, mai_image
    "openai_video": OpenAIVideoFake,
    "azure_sora": AzureSoraFake,
    "bfl": BFLFake,
    "replicate": ReplicateFake,
    "fal": FalFake,
    "stability": StabilityFake,
    "google": GoogleFake,  # gemini_image and imagen
    "generic": GenericFake,
}

# CLI name -> suffix to append to the server URL to get ProviderConfig.base_url
BASE_SUFFIX: dict[str, str] = {
    "openai": "/v1",
    "openai_video": "/v1",
    "replicate": "/v1",
    "google": "/v1beta",
}

REPO_ROOT = Path(__file__).resolve().parents[2]


def provider_base_url(name: str, server_url: str) -> str:
    """The ProviderConfig.base_url that points the matching generator at this fake."""
    return server_url + BASE_SUFFIX.get(name, "")


def spawn_fake(
    name: str,
    *,
    port: int = 0,
    api_key: str = "test-key",
    pending: int = 0,
    delay_s: float = 0.0,
    outcome: str = "ok",
    timeout_s: float = 15.0,
) -> tuple[subprocess.Popen[str], str]:
    """Start `python -m tests.fakes NAME` and return (process, provider base_url)."""
    cmd = [
        sys.executable,
        "-m",
        "tests.fakes",
        name,
        "--port",
        str(port),
        "--key",
        api_key,
        "--pending",
        str(pending),
        "--delay",
        str(delay_s),
        "--outcome",
        outcome,
    ]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout_s):
        proc.kill()
        raise RuntimeError(f"fake {name} did not start within {timeout_s}s")
    line = proc.stdout.readline().split()
    if len(line) < 3 or line[0] != "READY":
        proc.kill()
        raise RuntimeError(f"fake {name} failed to start: {line}")
    return proc, line[2]


__all__ = [
    "BASE_SUFFIX",
    "AzureSoraFake",
    "BFLFake",
    "FAKES",
    "FakeProviderServer",
    "FalFake",
    "GenericFake",
    "GoogleFake",
    "OpenAIImagesFake",
    "OpenAIVideoFake",
    "ReplicateFake",
    "StabilityFake",
    "ProviderFake",
    "Recorded",
    "Reply",
    "mp4_bytes",
    "png_bytes",
    "provider_base_url",
    "spawn_fake",
    "start_fake",
]
