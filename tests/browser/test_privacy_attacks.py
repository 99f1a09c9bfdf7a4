"""Battle privacy attacked in a real browser: a hostile prompt and hostile model names on the
public share page (and on the voter's own page after the reveal) are shown as text, never run;
a stranger's browser gets nothing of another voter's battle by its page, API or files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import IMAGES_SHOWN
from tests.live import LiveArena

pytestmark = pytest.mark.browser
# Each payload sets its own flag if it ever runs; none may.
PROMPT = (
    "<script>window.__pwned_prompt=1</script><img src=x "
    'onerror="window.__pwned_prompt_img=1"> a fox'
)
NAME = '<img src=x onerror="window.__pwned_name=1">'
ORG = '"><svg onload="window.__pwned_org=1"></svg>'
RAN = "Object.keys(window).filter(k => k.startsWith('__pwned'))"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-privacy"), provider_options={"delay_s": 0.1})
    try:
        arena.start()
        arena.manage(
            "shell",
            "-c",
            (
                "from arena.battles.models import Contender\n"
                "for i, c in enumerate(Contender.objects.order_by('pk')):\n"
                f"    c.name = {NAME!r} + str(i); c.organization = {ORG!r}; c.save()\n"
            ),
        )
        yield arena
    finally:
        arena.stop()


def test_hostile_prompt_and_model_names_never_run_on_the_share_page(
    browser: object, live: LiveArena, tmp_path: Path
) -> None:
    owner = browser.new_context()  # type: ignore[attr-defined]
    page = owner.new_page()
    page.goto(live.base + "/arena/text-to-image/")
    page.fill("#prompt-input", PROMPT)
    page.click("#generate-btn")
    page.wait_for_function(IMAGES_SHOWN, timeout=30_000)
    battle_url = page.url
    own_files = [
        page.get_attribute(f".panel[data-side={s}] img.output", "src") for s in ("left", "right")
    ]
    assert page.inner_text("#prompt-shown") == PROMPT  # shown as text
    page.click(".vote[data-choice=left]")
    page.wait_for_selector("#share-btn", state="visible")
    assert NAME in page.inner_text(".panel[data-side=left] .model-name")
    page.click("#share-btn")
    page.wait_for_selector("#share-url", state="visible")
    link = page.input_value("#share-url")
    page.wait_for_timeout(300)
    assert page.evaluate(RAN) == []

    stranger = browser.new_context()  # type: ignore[attr-defined]
    other = stranger.new_page()
    # Another voter's battle: its page, API and files are all a 404 for a stranger's browser.
    assert other.goto(battle_url).status == 404
    battle_id = battle_url.split("battle=")[1]
    assert other.request.get(f"{live.base}/api/battles/{battle_id}").status == 404
    for url in own_files:
        assert other.request.get(live.base + str(url)).status == 404

    console: list[str] = []  # a policy violation (a blocked style or image) shows up here
    other.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    assert other.goto(link).status == 200
    other.wait_for_function(IMAGES_SHOWN, timeout=10_000)
    assert other.inner_text("#prompt-shown") == PROMPT
    text = other.inner_text("main")
    assert NAME in text and ORG in text
    other.wait_for_timeout(300)
    assert other.evaluate(RAN) == []
    assert other.evaluate("document.querySelectorAll('main script, main svg').length") == 0
    assert other.evaluate("getComputedStyle(document.querySelector('.topbar')).display") != ""
    assert console == []
    stranger.close()
    owner.close()
