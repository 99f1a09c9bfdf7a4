"""A video battle in a real browser (issue 11): the voter picks 9:16, both demo clips arrive
in exactly that shape (no letterboxing), start together, and one control pauses and seeks both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import chromium
from tests.live import LiveArena

pytestmark = pytest.mark.browser
BOTH = "Array.from(document.querySelectorAll('#battle video.output'))"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # both clips must start without a click: the shared control is what the test drives
    yield from chromium("--autoplay-policy=no-user-gesture-required")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-video"))
    try:
        yield arena.start()
    finally:
        arena.stop()


def times(page: object) -> list[float]:
    return page.evaluate(f"{BOTH}.map(v => v.currentTime)")  # type: ignore[attr-defined,no-any-return]


def test_both_players_start_pause_and_seek_together_in_the_chosen_shape(
    browser: object, live: LiveArena, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + "/arena/text-to-video/")
    assert "Describe a video" in page.get_attribute("#prompt-input", "placeholder")
    page.wait_for_selector("#param-aspect_ratio")
    page.select_option("#param-aspect_ratio", label="9:16")
    page.select_option("#param-duration_s", label="4 s")
    page.fill("#prompt-input", "a red fox running through a snowy forest")
    page.click("#generate-btn")
    # both clips loaded (their first frame is up) and playing, from one start
    page.wait_for_function(
        f"{BOTH}.length === 2 && {BOTH}.every(v => v.readyState >= 2)", timeout=60_000
    )
    page.wait_for_function(f"{BOTH}.every(v => !v.paused && v.currentTime > 0.3)", timeout=10_000)
    assert page.is_visible("#video-controls")
    assert page.evaluate(f"{BOTH}.every(v => !v.controls)")  # one shared control, not two
    assert page.evaluate(f"{BOTH}.every(v => /\\/o\\/[^/]+\\/poster$/.test(v.poster))")
    shapes = page.evaluate(f"""{BOTH}.map(v => {{
        const r = v.getBoundingClientRect();
        return [v.videoWidth, v.videoHeight, r.width / r.height, v.duration];
    }})""")
    for width, height, box_ratio, duration in shapes:
        assert width * 16 == height * 9  # the served file is exactly 9:16
        assert box_ratio == pytest.approx(9 / 16, abs=0.01)  # the player too: no letterbox
        assert duration == pytest.approx(4.0, abs=0.05)
    left, right = times(page)
    assert abs(left - right) < 0.25, (left, right)

    page.click("#video-play")  # pause both
    page.wait_for_function(f"{BOTH}.every(v => v.paused)")
    page.evaluate("""() => { const s = document.getElementById('video-seek'); s.value = '2.5';
        s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); }""")
    page.wait_for_function(f"{BOTH}.every(v => Math.abs(v.currentTime - 2.5) < 0.05 && !v.seeking)")
    page.screenshot(path=str(tmp_path / "video-battle-paused.png"), full_page=True)

    page.click("#video-play")  # play both again, from the same frame
    page.wait_for_function(f"{BOTH}.every(v => !v.paused && v.currentTime > 2.8)")
    left, right = times(page)
    assert abs(left - right) < 0.25, (left, right)
    page.screenshot(path=str(tmp_path / "video-battle.png"), full_page=True)
    shots = os.environ.get("ARENA_SCREENSHOT_DIR")
    if shots:
        for name in ("video-battle.png", "video-battle-paused.png"):
            Path(shots, name).write_bytes((tmp_path / name).read_bytes())

    page.click(".vote[data-choice=right]")
    page.wait_for_selector(".panel[data-side=right] .reveal .model-name", state="visible")
    assert page.inner_text(".panel[data-side=right] .model-name").endswith("Motion")
    assert not errors, errors
