"""The CPU demo video contenders (issue 11): short clips with no key or GPU, driven by the
prompt, different per contender, each in its own native form like a real provider."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from generators.base import BadConfiguration, GenerationRequest, ProviderConfig, get_generator
from generators.demo_video import NATIVE, render_frames
from tests.media_probe import video_probe_bytes

REQUEST = GenerationRequest(
    prompt="a red fox running through a snowy forest",
    modality="video",
    width=486,
    height=864,
    aspect_ratio="9:16",
    duration_s=4.0,
    fps=24,
    seed=7,
)


@pytest.mark.parametrize("style", sorted(NATIVE))
def test_each_demo_style_returns_a_real_clip_in_its_own_native_form(
    style: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generator = get_generator(ProviderConfig(kind="demo", options={"style": style}))
    started = time.perf_counter()
    result = generator.generate(REQUEST)
    elapsed = time.perf_counter() - started
    native = NATIVE[style]
    info = video_probe_bytes(result.data, tmp_path, decode=False).info
    assert result.content_type == native.content_type
    assert (info.width, info.height) == (result.used["width"], result.used["height"])
    assert info.fps == native.fps
    assert info.duration_s == pytest.approx(min(4.0, native.max_seconds), abs=0.15)
    if native.aspect is None:  # follows the requested 9:16
        assert result.used["height"] > result.used["width"]
        assert result.mapped["size"]["requested"] == "486x864"
    if native.max_seconds < 4:
        assert result.mapped["duration_s"] == {"requested": 4.0, "used": native.max_seconds}
    with capsys.disabled():
        print(
            f"\nFIGURE demo video {style}: {elapsed * 1000:.0f} ms "
            f"({info.width}x{info.height}, {native.fps} fps)"
        )


def test_the_prompt_drives_the_clip_and_contenders_differ() -> None:
    def mean_colour(prompt: str, style: str) -> np.ndarray:
        frames = render_frames(prompt=prompt, seed=1, style=style, width=96, height=64, frames=6)
        return frames.reshape(-1, 3).mean(axis=0)

    blue = mean_colour("a blue ocean at night", "aurora")
    red = mean_colour("a red fire at sunset", "aurora")
    assert red[0] - red[2] > blue[0] - blue[2] + 20  # the colour words set the palette
    frames = render_frames(prompt="a fox", seed=1, style="mosaic", width=96, height=64, frames=12)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 5  # it moves
    styles = [
        render_frames(prompt="a fox", seed=1, style=s, width=96, height=64, frames=2)
        for s in ("aurora", "mosaic", "sketch")
    ]
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(styles[a].astype(int) - styles[b].astype(int)).mean() > 10


def test_a_demo_is_refused_for_text_and_refuses_the_forbidden_word() -> None:
    generator = get_generator(ProviderConfig(kind="demo", options={"style": "aurora"}))
    with pytest.raises(BadConfiguration):
        generator.generate(GenerationRequest(prompt="hello", modality="text"))
    from generators.base import ModerationRefused

    with pytest.raises(ModerationRefused):
        generator.generate(GenerationRequest(prompt="forbidden clip", modality="video"))
