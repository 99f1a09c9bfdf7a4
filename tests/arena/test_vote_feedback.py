"""The voter is told the truth after a vote: counted, or not counted and why; only the voter
(the shared page never says)."""

from __future__ import annotations

from typing import Any

from arena.battles.models import Battle, BattleStatus


def _ready(run_on_commit: Any, voter: Any, prompt: str) -> str:
    created = run_on_commit(voter.post, "/api/arenas/text-to-image/battles", {"prompt": prompt})
    assert Battle.objects.get(pk=created.json()["id"]).status == BattleStatus.READY
    return created.json()["id"]


def test_a_counted_vote_says_so(demo_arena: Any, voter: Any, run_on_commit: Any) -> None:
    battle = _ready(run_on_commit, voter, "a fox in the snow")
    answer = voter.post(f"/api/battles/{battle}/vote", {"choice": "left"}).json()
    assert answer["counted"] is True and answer["not_counted_reason"] is None
    state = voter.get(f"/api/battles/{battle}").json()
    assert state["vote"] == {"choice": "left", "counted": True, "not_counted_reason": None}


def test_a_repeated_prompt_is_stored_but_the_voter_learns_it_did_not_count(
    demo_arena: Any, voter: Any, run_on_commit: Any
) -> None:
    first = _ready(run_on_commit, voter, "a fox in the snow")
    voter.post(f"/api/battles/{first}/vote", {"choice": "left"})
    again = _ready(run_on_commit, voter, "A fox in the snow")
    answer = voter.post(f"/api/battles/{again}/vote", {"choice": "right"}).json()
    assert answer["counted"] is False
    assert "already voted on this prompt" in answer["not_counted_reason"]
    state = voter.get(f"/api/battles/{again}").json()
    assert state["vote"]["counted"] is False
    assert "already voted on this prompt" in state["vote"]["not_counted_reason"]


def test_too_fast_is_explained(
    demo_arena: Any, voter: Any, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_MIN_VOTE_SECONDS = 60.0
    battle = _ready(run_on_commit, voter, "a quiet harbour")
    answer = voter.post(f"/api/battles/{battle}/vote", {"choice": "tie"}).json()
    assert answer["counted"] is False and "too soon" in answer["not_counted_reason"]


def test_the_shared_page_never_says_whether_the_vote_counted(
    demo_arena: Any, voter: Any, run_on_commit: Any, client: Any
) -> None:
    first = _ready(run_on_commit, voter, "a fox in the snow")
    voter.post(f"/api/battles/{first}/vote", {"choice": "left"})
    again = _ready(run_on_commit, voter, "a fox in the snow")
    voter.post(f"/api/battles/{again}/vote", {"choice": "left"})
    for battle in (first, again):
        url = voter.post(f"/api/battles/{battle}/share").json()["url"]
        page = client.get(url).content.decode().casefold()
        assert "count" not in page and "already voted" not in page
