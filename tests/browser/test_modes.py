"""Named side by side and the playground in a real browser (issue 11): the side-by-side page
shows the two chosen names from the start and its vote is kept but not counted; the playground
runs one chosen model at the chosen shape and duration and shows the result."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import IMAGES_SHOWN
from tests.browser.test_site_ux import axe_violations
from tests.live import LiveArena

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-modes"))
    try:
        yield arena.start()
    finally:
        arena.stop()


def _keep(tmp_path: Path, name: str) -> None:
    shots = os.environ.get("ARENA_SCREENSHOT_DIR")
    if shots:
        Path(shots, name).write_bytes((tmp_path / name).read_bytes())


def test_side_by_side_shows_the_chosen_names_from_the_start_and_never_counts(
    browser: object, live: LiveArena, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + "/arena/text-to-image/")
    page.click("#tab-side-by-side")
    page.wait_for_selector("#model-a")
    names = page.eval_on_selector_all("#model-a option", "os => os.map(o => o.textContent)")
    page.select_option("#model-a", label=names[2])
    page.select_option("#model-b", label=names[0])
    page.fill("#prompt-input", "a lighthouse on a cliff at sunset")
    page.click("#generate-btn")
    page.wait_for_function(
        "document.querySelector('.panel[data-side=left] .panel-title')"
        ".textContent.startsWith('A: ')"
    )
    assert page.inner_text(".panel[data-side=left] .panel-title") == "A: " + names[2]
    assert page.inner_text(".panel[data-side=right] .panel-title") == "B: " + names[0]
    page.wait_for_function(IMAGES_SHOWN, timeout=30_000)
    page.wait_for_function("!document.querySelector('.vote[data-choice=left]').disabled")
    page.click(".vote[data-choice=left]")
    page.wait_for_selector("#counted", state="visible")
    assert "does not count" in page.inner_text("#counted")
    assert "never count toward the leaderboard" in page.inner_text("#counted")
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "side-by-side.png"), full_page=True)
    _keep(tmp_path, "side-by-side.png")
    # the arena's default vote export has no side-by-side vote; the named one has it
    default = page.request.get(live.base + "/api/arenas/text-to-image/votes").text()
    named = page.request.get(live.base + "/api/arenas/text-to-image/votes?mode=side_by_side")
    assert default.strip() == ""
    assert names[2] in named.text() and names[0] in named.text()
    assert not errors, errors


def test_the_playground_runs_one_model_at_the_chosen_shape(
    browser: object, live: LiveArena, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1100})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + "/arena/text-to-video/")
    page.click("#tab-playground")
    page.wait_for_selector("#param-aspect_ratio")
    page.select_option("#param-aspect_ratio", label="9:16")
    page.select_option("#param-duration_s", label="4 s")
    model = page.eval_on_selector_all("#model option", "os => os.map(o => o.textContent)")[-1]
    page.select_option("#model", label=model)
    page.fill("#prompt-input", "waves rolling onto a beach at dawn")
    page.click("#generate-btn")
    page.wait_for_function(
        "(() => { const v = document.querySelector('#battle video.output');"
        " return v && v.readyState >= 2; })()",
        timeout=60_000,
    )
    width, height, duration = page.evaluate(
        "(() => { const v = document.querySelector('#battle video.output');"
        " return [v.videoWidth, v.videoHeight, v.duration]; })()"
    )
    assert width * 16 == height * 9 and duration == pytest.approx(4.0, abs=0.05)
    assert page.inner_text("#model-shown") == model
    assert "Not counted anywhere" in page.inner_text("#status-shown")
    assert "?generation=" in page.url
    page.evaluate("document.querySelector('#battle video.output').currentTime = 1.5")
    page.wait_for_function(
        "(() => { const v = document.querySelector('#battle video.output');"
        " return !v.seeking && v.readyState >= 3; })()"
    )
    page.wait_for_timeout(200)
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "playground.png"), full_page=True)
    _keep(tmp_path, "playground.png")
    page.reload()  # the page resumes the generation from its URL
    page.wait_for_selector("#battle video.output")
    assert not errors, errors
