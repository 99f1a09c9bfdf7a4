"""Markup in a prompt or a model name is shown as text and never runs, in a real browser: on the
battle page (filled by JavaScript), on the share page, the leaderboard and the model page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import IMAGES_SHOWN
from tests.live import LiveArena

pytestmark = pytest.mark.browser

IMG = '<img src=x onerror="window.__xss=1">'
PROMPT = f"a fox {IMG} </script><script>window.__xss=2</script>"
NAMES = [f"{IMG} model {i}" for i in range(2)]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-xss"))
    try:
        arena.start()
        arena.manage(
            "shell",
            "-c",
            (
                "from arena.battles.models import Contender; "
                "players = list(Contender.objects.filter(arenas__slug='text-to-image')"
                ".order_by('pk')); "
                "[Contender.objects.filter(pk=c.pk).update(enabled=False) for c in players[2:]]; "
                f"[Contender.objects.filter(pk=c.pk).update(name=n) "
                f"for c, n in zip(players[:2], {NAMES!r})]"
            ),
        )
        yield arena
    finally:
        arena.stop()


def _no_script_ran(page: object) -> None:
    page.wait_for_timeout(300)  # type: ignore[attr-defined]  # an onerror fires after the load
    assert page.evaluate("typeof window.__xss") == "undefined"  # type: ignore[attr-defined]
    assert page.locator("main img[src=x]").count() == 0  # type: ignore[attr-defined]


def test_markup_in_a_prompt_and_model_names_is_shown_literally_and_never_runs(
    browser: object, live: LiveArena, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(live.base + "/arena/text-to-image/")
    page.fill("#prompt-input", PROMPT)
    page.click("#generate-btn")
    page.wait_for_function(IMAGES_SHOWN, timeout=30_000)
    _no_script_ran(page)
    assert page.inner_text("#prompt-shown") == PROMPT

    page.click(".vote[data-choice=left]")
    page.wait_for_selector("#share-btn", state="visible")
    _no_script_ran(page)
    shown = {page.inner_text(f".panel[data-side={side}] .model-name") for side in ("left", "right")}
    assert shown == set(NAMES)
    page.screenshot(path=str(tmp_path / "xss-battle.png"), full_page=True)

    page.click("#share-btn")
    page.wait_for_selector("#share-url", state="visible")
    link = page.input_value("#share-url")
    stranger = browser.new_context()  # type: ignore[attr-defined]
    other = stranger.new_page()
    assert other.goto(link).status == 200
    other.wait_for_function(IMAGES_SHOWN, timeout=10_000)
    _no_script_ran(other)
    text = other.inner_text("main")
    assert PROMPT in text and all(name in text for name in NAMES)

    other.goto(live.base + "/arena/text-to-image/leaderboard/")
    text = other.inner_text("main")
    assert all(name in text for name in NAMES)
    _no_script_ran(other)
    model_href = other.get_attribute("a.model-link", "href")
    assert model_href
    other.goto(live.base + model_href)
    assert other.inner_text("#model-name").startswith(IMG)
    _no_script_ran(other)
    stranger.close()
    context.close()
