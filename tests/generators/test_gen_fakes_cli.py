"""The fakes run as separate processes (`python -m tests.fakes`) for end-to-end tests."""

from __future__ import annotations

import pytest

from generators.base import ModerationRefused, get_generator
from tests.fakes import spawn_fake
from tests.fakes.testing import make_config, make_request


@pytest.mark.parametrize(("name", "kind"), [("openai", "openai_images"), ("bfl", "bfl")])
def test_spawned_fake_serves_a_generation(name: str, kind: str) -> None:
    proc, base = spawn_fake(name, pending=1)
    try:
        result = get_generator(make_config(kind, base)).generate(make_request())
        assert result.content_type == "image/png" and result.data.startswith(b"\x89PNG")
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_spawned_fake_scripted_outcome() -> None:
    proc, base = spawn_fake("bfl", outcome="content_moderated")
    try:
        with pytest.raises(ModerationRefused):
            get_generator(make_config("bfl", base)).generate(make_request())
    finally:
        proc.terminate()
        proc.wait(timeout=5)
