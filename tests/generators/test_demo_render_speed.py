"""The demo renderers' speed-ups (issue 10: at 16 battles at once the renders count) draw the
very same pictures as the straightforward code they replaced."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from generators import demo


def mosaic_reference(prompt: str, rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """The mosaic as first written: every pixel's 48 distances sorted."""
    pal = demo._palette(prompt, rng, n=6)
    n = 48
    cx, cy = rng.uniform(0, w, n), rng.uniform(0, h, n)
    scale = max(1, max(w, h) // 256)
    ys, xs = np.mgrid[0 : h // scale, 0 : w // scale].astype(np.float32) * scale
    dist = (xs[..., None] - cx) ** 2 + (ys[..., None] - cy) ** 2
    nearest = np.argsort(dist, axis=-1)[..., :2]
    d0 = np.take_along_axis(dist, nearest[..., :1], -1)[..., 0]
    d1 = np.take_along_axis(dist, nearest[..., 1:2], -1)[..., 0]
    colours = pal[rng.integers(0, len(pal), n)] * rng.uniform(0.7, 1.2, (n, 1))
    img = colours[nearest[..., 0]]
    edge = (np.sqrt(d1) - np.sqrt(d0)) < 2.5 * scale
    img[edge] = 25
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return out.resize((w, h), Image.Resampling.NEAREST)


@pytest.mark.parametrize(("w", "h"), [(512, 512), (768, 432), (300, 200), (64, 1024)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_mosaic_is_the_same_picture_as_before(w: int, h: int, seed: int) -> None:
    prompt = "a red lighthouse at night"
    fast = demo._mosaic(prompt, demo._rng(prompt, seed, "mosaic"), w, h)
    slow = mosaic_reference(prompt, demo._rng(prompt, seed, "mosaic"), w, h)
    assert np.array_equal(np.asarray(fast), np.asarray(slow))
