"""The browser every browser test drives: Debian's Chromium through Playwright (never a
downloaded build)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IMAGES_SHOWN = (
    "document.querySelectorAll('img.output').length === 2 && "
    "Array.from(document.querySelectorAll('img.output')).every(i => i.complete && "
    "i.naturalWidth > 0)"
)


def chromium(*extra_args: str) -> Iterator[object]:
    """Launch Debian's Chromium (ARGS plus `extra_args`); skipped, or failed in CI, without it."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (scripts/services.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from chromium()
