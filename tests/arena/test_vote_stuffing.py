"""Vote stuffing from one machine (issue 9): spoofed X-Forwarded-For, IPv6 rotation inside a
/64, dropped cookies, requests with no address. Played through the HTTP API as a script would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from arena.votes.models import Vote

ROOT = Path(__file__).resolve().parents[2]


class Script:
    """A voting script that can drop its cookies and choose its headers and address."""

    def __init__(self, run_on_commit: Any, **meta: str) -> None:
        self.run_on_commit = run_on_commit
        self.meta = meta
        self.fresh()

    def fresh(self) -> None:
        """Drop every cookie: a new session, a new voter id."""
        self.client = Client(enforce_csrf_checks=True)
        self.client.get("/api/arenas", **self.meta)

    def post(self, path: str, body: dict[str, Any], **meta: str) -> Any:
        return self.client.post(
            path,
            json.dumps(body),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=self.client.cookies["csrftoken"].value,
            **{**self.meta, **meta},
        )

    def vote(self, prompt: str, **meta: str) -> Vote:
        created = self.run_on_commit(
            self.post, "/api/arenas/text-to-image/battles", {"prompt": prompt}, **meta
        )
        assert created.status_code == 201, created.content
        battle_id = created.json()["id"]
        voted = self.post(f"/api/battles/{battle_id}/vote", {"choice": "left"}, **meta)
        assert voted.status_code == 200, voted.content
        return Vote.objects.get(battle_id=battle_id)


def test_a_spoofed_leftmost_forwarded_for_does_not_make_a_new_address(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    """Behind one proxy, the client writes the left of X-Forwarded-For itself; our proxy
    appends the real address on the right. Rotating the left must not reset the budget."""
    settings.ARENA_TRUSTED_PROXIES = 1
    settings.ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY = 3
    script = Script(run_on_commit, REMOTE_ADDR="10.0.0.2")  # the proxy
    votes = []
    for i in range(5):
        script.fresh()  # new cookie every time, too
        votes.append(
            script.vote(f"prompt {i}", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.9")
        )
    assert [v.is_valid for v in votes] == [True, True, True, False, False]
    assert {v.invalid_reason for v in votes[3:]} == {"address_budget"}
    assert len({v.voter_address for v in votes}) == 1
    assert len({v.voter_id for v in votes}) == 5


def test_rotating_ipv6_addresses_inside_one_64_is_one_address(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY = 2
    votes = []
    for i in range(4):
        script = Script(run_on_commit, REMOTE_ADDR=f"2001:db8:77:1:{i:x}:{i:x}::{i + 1:x}")
        votes.append(script.vote(f"prompt {i}"))
    assert [v.is_valid for v in votes] == [True, True, False, False]
    other_network = Script(run_on_commit, REMOTE_ADDR="2001:db8:77:2::1").vote("prompt 9")
    assert other_network.is_valid


def test_dropping_cookies_does_not_escape_the_daily_address_budget(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY = 4
    script = Script(run_on_commit, REMOTE_ADDR="192.0.2.50")
    votes = []
    for i in range(7):
        script.fresh()
        votes.append(script.vote(f"prompt {i}"))
    assert sum(v.is_valid for v in votes) == 4
    assert Vote.objects.count() == 7  # every vote is kept, the extra ones do not count
    assert all(v.invalid_reason == "address_budget" for v in votes[4:])
    # the budget is a rolling day: once the first votes are 24 hours old, it frees up
    Vote.objects.filter(pk__in=[v.pk for v in votes[:2]]).update(
        created_at=votes[0].created_at - timedelta(hours=25)
    )
    script.fresh()
    assert script.vote("prompt 8").is_valid


def test_votes_without_a_usable_address_are_kept_but_not_counted(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_TRUSTED_PROXIES = 1  # behind a proxy, but this request did not come through it
    script = Script(run_on_commit, REMOTE_ADDR="10.0.0.2")
    vote = script.vote("a cat")
    assert not vote.is_valid and vote.invalid_reason == "no_address"
    malformed = script.vote("a dog", HTTP_X_FORWARDED_FOR="203.0.113.9, not-an-address")
    assert not malformed.is_valid and malformed.invalid_reason == "no_address"
    fine = script.vote("a cow", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert fine.is_valid


def test_uncounted_votes_show_with_readable_reasons_on_the_leaderboard(
    demo_arena: Any, run_on_commit: Any, settings: Any
) -> None:
    from arena.leaderboards.services import leaderboard_compute

    settings.ARENA_TRUSTED_PROXIES = 1
    settings.ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY = 1
    script = Script(run_on_commit, REMOTE_ADDR="10.0.0.2")
    for i in range(2):
        script.fresh()
        script.vote(f"p{i}", HTTP_X_FORWARDED_FOR="203.0.113.9")
    script.vote("p3")  # no X-Forwarded-For: no usable address
    leaderboard_compute(arena=demo_arena)
    board = Client().get("/api/arenas/text-to-image/leaderboard").json()
    assert board["excluded"]["address_budget"] == {
        "count": 1,
        "why": "Over the daily budget of counted votes from one network address",
    }
    assert board["excluded"]["no_address"] == {
        "count": 1,
        "why": "Sent without a usable network address",
    }
    page = Client().get("/arena/text-to-image/leaderboard/").content.decode()
    assert "Over the daily budget of counted votes from one network address" in page
    assert "Sent without a usable network address" in page


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("198.51.100.7", "", 0, "198.51.100.7"),
        ("198.51.100.7", "1.2.3.4", 0, "198.51.100.7"),  # no proxy: the header is the client's
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", 1, "198.51.100.7"),
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9", 2, "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7:4711", 1, "198.51.100.7"),
        ("10.0.0.2", "[2001:db8::1]:443", 1, "2001:db8::/64"),
        ("10.0.0.2", "", 1, ""),
        ("10.0.0.2", "198.51.100.7", 2, ""),  # fewer entries than proxies: a direct request
        ("10.0.0.2", "1.2.3.4, unknown", 1, ""),
        ("10.0.0.2", "1.2.3.4, ", 1, ""),
        ("2001:db8:5:6:7:8:9:a", "", 0, "2001:db8:5:6::/64"),
        ("::ffff:198.51.100.7", "", 0, "198.51.100.7"),
        ("", "", 0, ""),
    ],
)
def test_client_address_is_the_nth_forwarded_entry_from_the_right(
    remote: str, forwarded: str, proxies: int, expected: str
) -> None:
    from arena.battles.voters import client_address

    assert (
        client_address(remote_addr=remote, forwarded_for=forwarded, trusted_proxies=proxies)
        == expected
    )


def test_the_old_leftmost_forwarded_for_setting_fails_loudly(tmp_path: Path) -> None:
    env = {**os.environ, "ARENA_TRUST_X_FORWARDED_FOR": "1", "ARENA_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "ARENA_TRUSTED_PROXIES" in done.stderr
