"""/metrics: counters move when votes, battles, generations and refreshes happen through the
real paths; several processes writing to one PROMETHEUS_MULTIPROC_DIR are summed; access is
limited to the allowed networks or a bearer token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from arena.ops.metrics import metrics_render
from tests.live import ROOT

ARENA = "text-to-image"


def scrape(voter: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = voter.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return parse(response.content.decode())


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_battles_generations_and_votes_through_the_api(
    demo_arena: Any, voter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    before = scrape(voter)
    with django_capture_on_commit_callbacks(execute=True):
        created = voter.post(f"/api/arenas/{ARENA}/battles", {"prompt": "a red fox"})
    assert created.status_code == 201
    battle_id = created.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        voted = voter.post(f"/api/battles/{battle_id}/vote", {"choice": "left"})
    assert voted.status_code == 200, voted.content
    with django_capture_on_commit_callbacks(execute=True):  # a refused vote counts nothing
        assert voter.post(f"/api/battles/{battle_id}/vote", {"choice": "left"}).status_code == 409
    after = scrape(voter)
    assert delta(before, after, "arena_battles_total", arena=ARENA) == 1
    assert delta(before, after, "arena_votes_total", arena=ARENA, counted="yes") == 1
    assert delta(before, after, "arena_votes_total", arena=ARENA, counted="no") == 0
    assert delta(before, after, "arena_generation_seconds_count", kind="demo", outcome="ok") == 2
    assert (
        delta(
            before, after, "arena_generation_seconds_bucket", kind="demo", outcome="ok", le="+Inf"
        )
        == 2
    )


def test_a_vote_that_does_not_count_is_labelled_counted_no(
    demo_arena: Any, voter: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ARENA_MIN_VOTE_SECONDS = 3600.0  # every vote is "too fast": stored, not counted
    with django_capture_on_commit_callbacks(execute=True):
        battle_id = voter.post(f"/api/arenas/{ARENA}/battles", {"prompt": "a cat"}).json()["id"]
    before = scrape(voter)
    with django_capture_on_commit_callbacks(execute=True):
        assert voter.post(f"/api/battles/{battle_id}/vote", {"choice": "tie"}).status_code == 200
    after = scrape(voter)
    assert delta(before, after, "arena_votes_total", arena=ARENA, counted="no") == 1
    assert delta(before, after, "arena_votes_total", arena=ARENA, counted="yes") == 0


def test_a_vote_rolled_back_is_not_counted(
    demo_arena: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import transaction

    from arena.battles.models import Battle, BattleStatus
    from arena.votes.models import Vote

    battle = Battle.objects.create(
        arena=demo_arena,
        prompt=_prompt(demo_arena),
        left=demo_arena.contenders.all()[0],
        right=demo_arena.contenders.all()[1],
        voter_id="v",
        status=BattleStatus.READY,
        seed=1,
    )
    before = parse(metrics_render().decode())
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        Vote.objects.create(battle=battle, choice="left", voter_id="v")
        raise RuntimeError("rolled back")
    after = parse(metrics_render().decode())
    assert delta(before, after, "arena_votes_total", arena=ARENA, counted="yes") == 0


def _prompt(arena: Any) -> Any:
    from arena.battles.models import Prompt

    return Prompt.objects.create(text="metrics prompt", modality=arena.modality)


def test_a_leaderboard_refresh_is_timed(demo_arena: Any) -> None:
    from arena.leaderboards.services import leaderboard_refresh

    before = parse(metrics_render().decode())
    assert leaderboard_refresh(arena_id=demo_arena.pk)
    after = parse(metrics_render().decode())
    assert (
        delta(before, after, "arena_leaderboard_refresh_seconds_count", arena=ARENA, outcome="ok")
        == 1
    )


def test_metrics_are_refused_to_other_addresses_unless_the_token_is_sent(
    db: None, client: Any, settings: Any
) -> None:
    import ipaddress

    answer = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert answer.status_code == 403 and b"ARENA_METRICS_ALLOWED" in answer.content
    settings.ARENA_METRICS_TOKEN = "s3cret-token"
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong"
        ).status_code
        == 403
    )
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token"
        ).status_code
        == 200
    )
    settings.ARENA_METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("203.0.113.0/24")]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_a_malformed_metrics_network_fails_loudly(tmp_path: Path) -> None:
    import os

    env = {
        **os.environ,
        "ARENA_METRICS_ALLOWED": "10.0.0.0/8,not-a-network",
        "ARENA_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "ARENA_METRICS_ALLOWED must list networks" in done.stderr


WRITER = """
import sys
from arena.ops import metrics
for _ in range(int(sys.argv[1])):
    metrics.VOTES.labels(arena="text-to-image", counted="yes").inc()
metrics.GENERATION.labels(kind="demo", outcome="ok").observe(0.3)
"""


def test_two_processes_writing_metrics_are_summed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(n)], cwd=ROOT, env=env) for n in (3, 4)
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process and kind
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = metrics_render().decode()
    samples = parse(text)
    assert samples[("arena_votes_total", (("arena", "text-to-image"), ("counted", "yes")))] == 7
    assert samples[("arena_generation_seconds_count", (("kind", "demo"), ("outcome", "ok")))] == 2
