"""The site as voters meet it, in a real browser at desktop (1280 px) and phone (390 × 660)
sizes: keyboard votes, the truth about each vote, sharing, slow and failed battles, the phone
layout, both themes checked by axe-core, focus order, and the API reference.

Screenshots go to tmp_path (and to ARENA_SCREENSHOT_DIR when set, for the README)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import IMAGES_SHOWN
from tests.live import LiveArena

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {
    "viewport": {"width": 390, "height": 660},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(
        tmp_path_factory.mktemp("live-ux"),
        provider_options={"delay_s": 0.1},
        # the sweeper every second: an expired battle fails within ~1 s of it
        extra_env={"ARENA_STALE_GRACE_S": "1", "ARENA_SWEEP_EVERY_S": "1"},
    )
    try:
        yield arena.start()
    finally:
        arena.stop()


def shot(page: Any, tmp_path: Path, name: str, *, full_page: bool = False) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("ARENA_SCREENSHOT_DIR"):
        shutil.copy(path, Path(os.environ["ARENA_SCREENSHOT_DIR"], name))


def open_page(browser: Any, live: LiveArena, path: str, **context: Any) -> tuple[Any, list[str]]:
    page = browser.new_context(**context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + path)
    return page, errors


def battle_ready(page: Any, prompt: str | None = None) -> None:
    if prompt is None:
        page.click("#random-btn")
    else:
        page.fill("#prompt-input", prompt)
        page.click("#generate-btn")
    page.wait_for_function(IMAGES_SHOWN, timeout=30_000)
    page.wait_for_selector(".vote[data-choice=left]:not([disabled])")


def set_options(live: LiveArena, options: dict[str, object], timeout_s: int = 180) -> None:
    live.manage(
        "shell",
        "-c",
        (
            "from arena.battles.models import Arena, Provider; "
            f"Provider.objects.update(options={options!r}); "
            f"Arena.objects.update(generation_timeout_s={timeout_s})"
        ),
    )


def test_keyboard_vote_tells_whether_it_counted_and_offers_sharing(
    browser: Any, live: LiveArena, tmp_path: Path
) -> None:
    page, errors = open_page(browser, live, "/arena/text-to-image/", **DESKTOP)
    labels = page.locator(".vote").all_inner_texts()
    assert [re.sub(r"\s+", " ", t).strip() for t in labels] == [
        "A is better A",
        "Tie T",
        "Both are bad N",
        "B is better B",
    ]
    battle_ready(page)
    prompt = page.inner_text("#prompt-shown")
    page.keyboard.press("a")  # focus is on the random button, not in the text box
    page.wait_for_selector(".panel[data-side=left] .reveal .model-name", state="visible")
    assert "preferred Model A" in page.inner_text("#after-text")
    assert page.inner_text("#counted") == "✓ Your vote counts toward the leaderboard."
    assert page.is_visible("#share-btn")
    shot(page, tmp_path, "battle-desktop.png", full_page=True)

    page.keyboard.press("Enter")  # a new battle: the prompt box, cleared battle
    assert (
        page.is_hidden("#battle") and page.evaluate("document.activeElement.id") == "prompt-input"
    )
    battle_ready(page, prompt)  # the same prompt again: stored, not counted, and told why
    page.keyboard.press("t")
    page.wait_for_selector("#counted:not([hidden])")
    assert "does not count: you already voted on this prompt" in page.inner_text("#counted")
    page.click("#share-btn")
    page.wait_for_selector("#share-link:not([hidden])")
    url = page.input_value("#share-url")
    # (the share page's CSP allows no script: axe is injected past it, as a tool, not the page)
    stranger, _ = open_page(browser, live, url.removeprefix(live.base), bypass_csp=True, **DESKTOP)
    assert "count" not in stranger.inner_text("main").casefold()  # only the voter is told
    assert axe_violations(stranger) == []
    assert errors == []


def test_a_phone_shows_both_outputs_together_and_a_leaderboard_that_fits(
    browser: Any, live: LiveArena, tmp_path: Path
) -> None:
    page, errors = open_page(browser, live, "/arena/text-to-image/", **PHONE)
    battle_ready(page, "a red fox sleeping in a snowy forest at dawn")
    page.evaluate("document.getElementById('battle').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    boxes = page.evaluate(
        "Array.from(document.querySelectorAll('img.output')).map((i) => {"
        "const r = i.getBoundingClientRect(); return [r.top, r.bottom, "
        "r.width]; })"
    )
    for top, bottom, width in boxes:  # both wholly on the 660 px screen at once
        assert top >= 0 and bottom <= 660 and width > 120
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, tmp_path, "battle-phone.png")
    page.click(".vote[data-choice=right]")
    page.wait_for_selector("#counted:not([hidden])")
    shot(page, tmp_path, "battle-phone-voted.png")

    page.goto(live.base + "/arena/text-to-image/leaderboard/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.is_visible("table.board th:has-text('Rating')")
    assert page.is_hidden("table.board th:has-text('Organisation')")
    shot(page, tmp_path, "leaderboard-phone.png")
    page.click("#columns-toggle")
    assert page.is_visible("table.board th:has-text('Organisation')")
    assert page.get_attribute("#columns-toggle", "aria-pressed") == "true"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls
    assert errors == []


def test_slow_generation_shows_time_and_a_hint(
    browser: Any, live: LiveArena, tmp_path: Path
) -> None:
    set_options(live, {"delay_s": 11})
    try:
        page, errors = open_page(browser, live, "/arena/text-to-image/", **DESKTOP)
        page.fill("#prompt-input", "a slow lighthouse")
        page.click("#generate-btn")
        page.wait_for_function(
            "document.getElementById('wait-hint').textContent.length > 0", timeout=15_000
        )
        assert re.fullmatch(r"Generating… 1\d s", page.inner_text("#elapsed"))
        assert "Some models take a minute" in page.inner_text("#wait-hint")
        shot(page, tmp_path, "battle-slow.png")
        page.wait_for_function(IMAGES_SHOWN, timeout=30_000)
        assert page.is_hidden("#wait")
        assert errors == []
    finally:
        set_options(live, {"delay_s": 0.1})


def test_failed_and_expired_battles_say_so_and_offer_a_new_one(
    browser: Any, live: LiveArena, tmp_path: Path
) -> None:
    page, errors = open_page(browser, live, "/arena/text-to-image/", **PHONE)
    page.fill("#prompt-input", "something forbidden")  # the demo provider refuses it
    page.click("#generate-btn")
    page.wait_for_selector("#after:not([hidden])")
    assert "Nothing was counted" in page.inner_text("#message")
    assert page.is_visible("#new-btn") and page.is_hidden("#vote-bar")
    assert page.locator(".spinner:visible").count() == 0  # no spinner that never ends
    shot(page, tmp_path, "battle-failed-phone.png")

    set_options(live, {"delay_s": 8}, timeout_s=2)  # expires 2 s + 1 s grace after the start
    try:
        page.click("#new-btn")
        page.fill("#prompt-input", "a kite that never lands")
        page.click("#generate-btn")
        page.wait_for_selector("#after:not([hidden])", timeout=15_000)
        assert "Nothing was counted" in page.inner_text("#message")
        assert page.is_hidden("#wait") and page.is_visible("#new-btn")
        assert page.locator(".spinner:visible").count() == 0
    finally:
        set_options(live, {"delay_s": 0.1})
    assert errors == []


AXE = files("axe_playwright_python").joinpath("axe.min.js").read_text()


def axe_violations(page: Any) -> list[str]:
    page.add_script_tag(content=AXE)
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', "
        "'wcag21aa']}})"
    )
    return [
        f"{v['id']}: {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_pages_pass_axe_in_both_themes(
    browser: Any, live: LiveArena, tmp_path: Path, theme: str
) -> None:
    context = {**DESKTOP, "color_scheme": theme}
    page, errors = open_page(browser, live, "/", **context)
    assert axe_violations(page) == []
    page.goto(live.base + "/arena/text-to-image/")
    battle_ready(page, f"a lighthouse in the {theme}")
    assert axe_violations(page) == []
    page.click(".vote[data-choice=tie]")
    page.wait_for_selector("#counted:not([hidden])")
    assert axe_violations(page) == []
    shot(page, tmp_path, f"battle-{theme}.png", full_page=True)
    page.goto(live.base + "/arena/text-to-image/leaderboard/")
    assert axe_violations(page) == []
    shot(page, tmp_path, f"leaderboard-{theme}.png", full_page=True)
    assert errors == []


def test_focus_follows_the_page_order(browser: Any, live: LiveArena) -> None:
    page, _ = open_page(browser, live, "/arena/text-to-image/", **DESKTOP)
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        )
    assert order == [
        "⚔ Open Model Arena",
        "Leaderboard",
        "Battle (anonymous)",  # the arena's modes, in the order shown
        "tab-side-by-side",
        "tab-playground",
        "prompt-input",
        "generate-btn",
        "random-btn",
    ]
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    label = page.evaluate("document.querySelector('label[for=prompt-input]').textContent")
    assert label == "Your prompt"


def test_api_reference_runs_from_the_sites_own_files(
    browser: Any, live: LiveArena, tmp_path: Path
) -> None:
    page = browser.new_context(**DESKTOP).new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: requests.append(req.url))
    page.goto(live.base + "/api/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() >= 8
    assert "castVote" in page.content() or page.locator("text=/api/battles/").count()
    assert [u for u in requests if not u.startswith((live.base, "data:"))] == []
    shot(page, tmp_path, "api-docs.png")
    assert errors == []
