"""Battle privacy, attacked: what a curious visitor or a scraper tries against the private
battles, the share links and the public export (see test_privacy.py for the intended
behaviour)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from arena.battles.models import Arena
from tests.arena.test_privacy import voted_battle


@pytest.fixture(autouse=True)
def small_images(demo_arena: Any) -> None:
    Arena.objects.update(width=64, height=64)


@pytest.mark.parametrize("path", [
    "/s/%00", "/s/a%00b", "/s/%00/left", "/s/x%00/right", "/o/%00", "/o/a%00b",
    "/s/" + "a" * 300, "/o/" + "a" * 300, "/s/%ff%fe", "/o/%C3%A9",
])
def test_a_hostile_token_is_a_404_never_a_500(voter: Any, run_on_commit: Any,
                                              path: str) -> None:
    """A scraper probing token URLs with a NUL byte (PostgreSQL refuses it in a query) or any
    other odd token gets the 404 of a missing link, not a server error."""
    battle = voted_battle(voter, run_on_commit)
    assert voter.post(f"/api/battles/{battle['id']}/share").status_code == 201
    client = Client(raise_request_exception=False)
    assert client.get(path).status_code == 404
