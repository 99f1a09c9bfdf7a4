"""Sharing in a real browser: after the vote the voter makes a link; a stranger (a fresh browser
context, no cookies) sees the prompt, both images and the names; the voter's own output URLs stay
private; revoking the link makes it a 404."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import IMAGES_SHOWN
from tests.live import LiveArena

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-share"), provider_options={"delay_s": 0.1})
    try:
        yield arena.start()
    finally:
        arena.stop()


def test_voter_shares_a_battle_a_stranger_sees_it_and_revoking_hides_it(
    browser: object, live: LiveArena, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("ARENA_SCREENSHOT_DIR") or tmp_path)
    owner = browser.new_context(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    page = owner.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + "/arena/text-to-image/")
    assert "visible only to you" in page.inner_text("#privacy-note")
    page.fill("#prompt-input", "a lighthouse on a cliff at sunset, oil painting")
    page.click("#generate-btn")
    page.wait_for_function(IMAGES_SHOWN, timeout=30_000)
    assert page.locator("#share").is_hidden()  # nothing to share before the vote
    own_urls = [
        page.get_attribute(f".panel[data-side={s}] img.output", "src") for s in ("left", "right")
    ]

    page.click(".vote[data-choice=right]")
    page.wait_for_selector("#share-btn", state="visible")
    left = page.inner_text(".panel[data-side=left] .model-name")
    right = page.inner_text(".panel[data-side=right] .model-name")
    page.screenshot(path=str(shots / "battle-share-offered.png"), full_page=True)
    page.click("#share-btn")
    page.wait_for_selector("#share-url", state="visible")
    link = page.input_value("#share-url")
    assert link.startswith(live.base + "/s/")
    page.screenshot(path=str(shots / "battle-shared.png"), full_page=True)

    for width, height, name in ((1280, 1000, "share.png"), (390, 844, "share-mobile.png")):
        stranger = browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
        other = stranger.new_page()
        other.on("pageerror", lambda exc: errors.append(str(exc)))
        assert other.goto(link).status == 200
        other.wait_for_function(IMAGES_SHOWN, timeout=10_000)
        text = other.inner_text("main")
        assert "a lighthouse on a cliff at sunset" in text
        assert left in text and right in text and "preferred Model B" in text
        other.wait_for_timeout(500)  # the images' fade-in
        other.screenshot(path=str(shots / name), full_page=True)
        for url in own_urls:  # the voter's own file URLs are not the stranger's
            assert other.request.get(live.base + str(url)).status == 404
        stranger.close()

    page.click("#share-revoke")
    page.wait_for_selector("#share-btn", state="visible")
    stranger = browser.new_context()  # type: ignore[attr-defined]
    assert stranger.new_page().goto(link).status == 404
    stranger.close()
    owner.close()
    assert errors == []
