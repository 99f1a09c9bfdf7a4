"""An image-editing battle in a real browser (issue 11): the voter uploads a picture (file
input with a label), sees the stored copy as a preview, describes the change, and both demo
models' edits of that picture arrive; after the vote the names show."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.browser.conftest import IMAGES_SHOWN
from tests.live import LiveArena

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveArena]:
    arena = LiveArena(tmp_path_factory.mktemp("live-edit"))
    try:
        yield arena.start()
    finally:
        arena.stop()


def picture(path: Path) -> Path:
    """A 480×320 JPEG: sky, sun and a hill, so colour and mirror edits are visible."""
    img = Image.new("RGB", (480, 320), (120, 180, 240))
    draw = ImageDraw.Draw(img)
    draw.ellipse((40, 30, 130, 120), fill=(250, 220, 60))
    draw.polygon([(0, 320), (200, 170), (480, 260), (480, 320)], fill=(60, 150, 70))
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return path


def test_an_editing_battle_with_an_upload(browser: object, live: LiveArena, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + "/arena/image-editing/")
    assert "Upload an image and describe the change" in page.inner_text(".arena-head")
    assert "Describe the change" in page.get_attribute("#prompt-input", "placeholder")
    # before an upload, Generate asks for one
    page.fill("#prompt-input", "make it black and white")
    page.click("#generate-btn")
    page.wait_for_selector("#message:not([hidden])")
    assert "Upload an image first" in page.inner_text("#message")
    # a file that is not an image is refused in words
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image at all")
    page.get_by_label("Image to edit").set_input_files(str(bad))
    page.wait_for_function(
        "document.getElementById('message').textContent.includes('not an image')"
    )
    # the real upload: its stored copy is the preview
    page.get_by_label("Image to edit").set_input_files(str(picture(tmp_path / "hill.jpg")))
    page.wait_for_selector("#upload-preview:not([hidden])")
    page.wait_for_function(
        "document.getElementById('upload-img').complete && "
        "document.getElementById('upload-img').naturalWidth === 480"
    )
    assert page.get_attribute("#upload-img", "src").startswith("/u/")
    page.fill("#prompt-input", "make it black and white, then mirror it")
    page.click("#generate-btn")
    page.wait_for_function(IMAGES_SHOWN, timeout=60_000)
    sizes = page.evaluate(
        "Array.from(document.querySelectorAll('img.output')).map(i => [i.naturalWidth, "
        "i.naturalHeight])"
    )
    for width, height in sizes:
        assert width * 2 == height * 3  # the source's 3:2 framing, one form for both sides
    boxes = page.evaluate(
        "Array.from(document.querySelectorAll('img.output')).map(i => "
        "i.getBoundingClientRect().width / i.getBoundingClientRect().height)"
    )
    assert boxes == [pytest.approx(1.5, abs=0.02)] * 2  # shown whole, not cropped square
    page.screenshot(path=str(tmp_path / "edit-battle.png"), full_page=True)
    shots = os.environ.get("ARENA_SCREENSHOT_DIR")
    if shots:
        Path(shots, "edit-battle.png").write_bytes((tmp_path / "edit-battle.png").read_bytes())
    # the voter leaves and comes back: the battle shows the picture it edits, same shape
    page.goto(page.url)
    page.wait_for_function(IMAGES_SHOWN, timeout=30_000)
    page.wait_for_function(
        "document.getElementById('upload-img').complete && "
        "document.getElementById('upload-img').naturalWidth === 480"
    )
    assert page.is_visible("#upload-preview")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('img.output')).every(i => Math.abs("
        "i.getBoundingClientRect().width / i.getBoundingClientRect().height - 1.5) < 0.02)"
    )
    page.click(".vote[data-choice=left]")
    page.wait_for_selector(".panel[data-side=left] .reveal .model-name", state="visible")
    assert page.inner_text(".panel[data-side=left] .model-name").startswith("Demo ")
    assert not errors, errors


def test_a_playground_edit_of_an_upload(browser: object, live: LiveArena, tmp_path: Path) -> None:
    """The playground of an editing arena reuses the battle page's upload control: it asks for
    an upload first, then one chosen model edits the stored copy at the picture's shape."""
    from tests.browser.test_site_ux import axe_violations

    page = browser.new_page(viewport={"width": 1280, "height": 1000})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live.base + "/arena/image-editing/playground/")
    assert "describe the change" in page.inner_text(".arena-head")
    page.fill("#prompt-input", "make it black and white, then mirror it")
    page.click("#generate-btn")
    page.wait_for_selector("#message:not([hidden])")
    assert "Upload an image first" in page.inner_text("#message")
    page.get_by_label("Image to edit").set_input_files(str(picture(tmp_path / "hill.jpg")))
    page.wait_for_function(
        "document.getElementById('upload-img').complete && "
        "document.getElementById('upload-img').naturalWidth === 480"
    )
    model = page.eval_on_selector_all("#model option", "os => os.map(o => o.textContent)")[0]
    page.click("#generate-btn")
    shown = (
        "(() => { const i = document.querySelector('#battle img.output');"
        " return i && i.complete && i.naturalWidth > 0; })()"
    )
    page.wait_for_function(shown, timeout=60_000)
    width, height = page.evaluate(
        "(() => { const i = document.querySelector('#battle img.output');"
        " return [i.naturalWidth, i.naturalHeight]; })()"
    )
    assert width * 2 == height * 3  # the source's 3:2 framing
    # the demo editor really edited the upload: black and white, and mirrored (sun on the right)
    grey, sun_right = page.evaluate(
        """(() => { const i = document.querySelector('#battle img.output');
        const c = document.createElement('canvas'); c.width = i.naturalWidth;
        c.height = i.naturalHeight; const g = c.getContext('2d'); g.drawImage(i, 0, 0);
        const at = (x, y) => g.getImageData(Math.round(x * c.width),
          Math.round(y * c.height), 1, 1).data;
        const p = at(0.5, 0.3), right = at(0.82, 0.23), left = at(0.18, 0.23);
        return [Math.abs(p[0] - p[1]) < 4 && Math.abs(p[1] - p[2]) < 4,
          right[0] > left[0] + 40]; })()"""
    )
    assert grey and sun_right
    assert page.inner_text("#model-shown") == model
    assert "Not counted anywhere" in page.inner_text("#status-shown")
    assert "?generation=" in page.url
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "playground-edit.png"), full_page=True)
    shots = os.environ.get("ARENA_SCREENSHOT_DIR")
    if shots:
        Path(shots, "playground-edit.png").write_bytes(
            (tmp_path / "playground-edit.png").read_bytes()
        )
    page.reload()  # the page resumes the generation and shows the picture it edited
    page.wait_for_function(shown, timeout=30_000)
    page.wait_for_function(
        "document.getElementById('upload-img').complete && "
        "document.getElementById('upload-img').naturalWidth === 480"
    )
    assert "the model edited" in page.inner_text("#upload-caption")
    assert not errors, errors
