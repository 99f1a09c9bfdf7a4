"""A voter in a real browser: Playwright driving Debian's Chromium against a live arena."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import LiveArena

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    # Proof of work on (a small difficulty): the page must solve it before its first vote counts.
    arena = LiveArena(
        tmp_path_factory.mktemp("live-browser"),
        provider_options={"delay_s": 0.3},
        extra_env={"ARENA_POW_BITS": "12"},
    )
    try:
        yield arena.start()
    finally:
        arena.stop()


def test_voter_generates_waits_for_both_images_votes_and_sees_the_names(
    browser: object, live: LiveArena, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + "/arena/text-to-image/")
    page.fill("#prompt-input", "a lighthouse on a cliff at sunset")
    page.click("#generate-btn")
    # both images shown and decoded, then the vote buttons open
    page.wait_for_function(
        "document.querySelectorAll('img.output').length === 2 && "
        "Array.from(document.querySelectorAll('img.output')).every(i => i.complete && "
        "i.naturalWidth > 0)",
        timeout=30_000,
    )
    page.wait_for_selector(".vote[data-choice=left]:not([disabled])")
    assert page.locator(".reveal:visible").count() == 0  # no names before the vote
    body_before = page.content()
    for name in ("Demo Aurora", "Demo Mosaic", "Demo Sketch", "Demo Pixel", "Demo Static"):
        assert name not in body_before
    page.screenshot(path=str(tmp_path / "battle-before-vote.png"), full_page=True)

    page.click(".vote[data-choice=left]")
    page.wait_for_selector(".panel[data-side=left] .reveal .model-name", state="visible")
    left = page.inner_text(".panel[data-side=left] .model-name")
    right = page.inner_text(".panel[data-side=right] .model-name")
    assert left.startswith("Demo ") and right.startswith("Demo ") and left != right
    assert "preferred Model A" in page.inner_text("#after-text")
    # the page solved the new voter's proof of work in the background (pow.js)
    assert page.evaluate("fetch('/api/challenge').then((r) => r.json())") == {"verified": True}
    page.screenshot(path=str(tmp_path / "battle-after-vote.png"), full_page=True)
    shots = os.environ.get("ARENA_SCREENSHOT_DIR")
    if shots:
        for name in ("battle-before-vote.png", "battle-after-vote.png"):
            Path(shots, name).write_bytes((tmp_path / name).read_bytes())

    page.goto(live.base + "/arena/text-to-image/leaderboard/")
    # one vote: every model is provisional (listed with its votes, not ranked)
    assert page.locator("#provisional tbody tr").count() == 5
    assert "No model is ranked yet" in page.inner_text("#board")
    if shots:
        page.screenshot(path=str(Path(shots, "leaderboard.png")), full_page=True)
    assert errors == []
