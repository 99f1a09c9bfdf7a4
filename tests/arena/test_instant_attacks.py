"""Attacks on instant battles (arena/battles/instant.py), each played against the real path:
a stock file deleted under the battle that took it, the instant/live difference naming a model,
stock or a prompt served twice, the stock made to cost more than the battles it serves, a bot's
vote on a battle that is ready at once."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db.models import Count
from django.utils import timezone

from arena.battles import instant, services
from arena.battles.models import (
    Battle,
    BattleStatus,
    Contender,
    InstantOutput,
    OutputStatus,
    Prompt,
)
from arena.battles.selectors import contenders_playing
from tests.arena.test_instant_battles import SLUG, _arena, _fill, _no_refill


def _random_battle(run_on_commit: Any, voter_id: str, **kwargs: Any) -> Battle:
    return run_on_commit(
        services.battle_create, arena_slug=SLUG, voter_id=voter_id, random_prompt=True, **kwargs
    )


def _files_of(battle: Battle) -> list[str]:
    return [o.file.name for o in battle.outputs.all()]


# ------------------------------------------------------------- reuse, and files deleted in use
@pytest.mark.parametrize("why", ["expired", "stuck"])
def test_the_cleanup_never_deletes_a_file_a_battle_took_meanwhile(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any, settings: Any, why: str
) -> None:
    """The cleanup lists stale stock, then withdraws it: a battle that takes one of the listed
    outputs between the two (stock past its age, or made just after the arena's timeout) owns
    its file, which must survive and be served; the outputs stay the battle's."""
    _no_refill(monkeypatch)
    arena = _arena(stock=1, playing=2)
    if why == "expired":
        _fill(run_on_commit, arena)
        now = timezone.now() + timedelta(seconds=settings.ARENA_INSTANT_MAX_AGE_S + 1)
    else:
        assert instant.instant_stock_fill(arena_id=arena.pk) == 2  # queued, the worker late
        now = timezone.now() + timedelta(
            seconds=arena.generation_timeout_s + settings.ARENA_STALE_GRACE_S + 1
        )
    taken: list[Battle] = []
    real_withdraw = instant._withdraw

    def battle_in_between(entries: list[InstantOutput], code: str) -> int:
        if entries and not taken:
            for entry in entries:  # the late worker finishes now (no-op when made already)
                instant.instant_output_generate(entry_id=entry.pk)
            taken.append(_random_battle(run_on_commit, "v"))
        return real_withdraw(entries, code)

    monkeypatch.setattr(instant, "_withdraw", battle_in_between)
    run_on_commit(instant.instant_stock_clean, now=now)
    assert taken and taken[0].status == BattleStatus.READY
    files = [name for o in taken[0].outputs.all() for name in (o.file.name,)]
    assert all(files) and all(default_storage.exists(name) for name in files)
    served = InstantOutput.objects.filter(consumed_by=taken[0])
    assert served.count() == 2 and not served.filter(status=OutputStatus.FAILED).exists()


# -------------------------------------------------------------------------- deanonymisation
def test_instant_or_live_depends_on_the_stock_level_not_on_the_pair(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    """A model with no stock yet (just added, its stock withdrawn after a change) must not
    make exactly its own battles the live ones: a voter would read "generated live" as "the
    new model is in this pair" and know whom to vote for. A battle takes a pre-drawn battle
    whatever it holds, else draws live: while stock lasts every battle is instant, then every
    one is live, with and without the newcomer alike."""
    _no_refill(monkeypatch)
    arena = _arena(stock=4, playing=3)
    newcomer = contenders_playing(arena=arena)[-1]
    Contender.objects.filter(pk=newcomer.pk).update(enabled=False)
    _fill(run_on_commit, arena)  # the two others stocked; then the newcomer starts playing
    Contender.objects.filter(pk=newcomer.pk).update(enabled=True)
    statuses, live_pairs = [], {True: 0, False: 0}
    for seed in range(16):
        battle = _random_battle(run_on_commit, f"v{seed}", rng=random.Random(seed))
        statuses.append(battle.status == BattleStatus.READY)
        if battle.status != BattleStatus.READY:
            live_pairs[newcomer.pk in (battle.left_id, battle.right_id)] += 1
    assert statuses == [True] * 4 + [False] * 12  # the stock level alone decides
    assert live_pairs[True] and live_pairs[False]  # live: with and without the newcomer
    # the next fill draws with the newcomer like any other model
    arena.instant_stock = 30
    arena.save(update_fields=["instant_stock"])
    instant.instant_stock_fill(arena_id=arena.pk, rng=random.Random(1))
    assert InstantOutput.objects.filter(contender=newcomer).exists()


def test_a_redelivered_generation_task_never_touches_the_file_a_battle_took(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    """A worker dies mid-output and the broker hands the task out again: both copies make the
    output; the first to finish is taken by a battle, the second must neither replace nor
    delete that file (nor hand its own bytes to anyone)."""
    from arena.battles import generation

    _no_refill(monkeypatch)
    arena = _arena(stock=1, playing=2)
    assert instant.instant_stock_fill(arena_id=arena.pk) == 2  # queued, not run
    first, second = InstantOutput.objects.order_by("pk")
    real_render = generation.output_render
    battles: list[Battle] = []

    def render_slowly(**kwargs: Any) -> Any:
        fields = real_render(**kwargs)
        if not battles and kwargs["owner"].pk == first.pk:
            # meanwhile the redelivered copy finishes, the partner too, and a battle takes both
            battles.append(Battle())
            instant.instant_output_generate(entry_id=first.pk)
            instant.instant_output_generate(entry_id=second.pk)
            battles[0] = _random_battle(run_on_commit, "v")
        return fields

    monkeypatch.setattr(generation, "output_render", render_slowly)
    instant.instant_output_generate(entry_id=first.pk)  # the late copy finishes last
    battle = battles[0]
    assert battle.status == BattleStatus.READY
    files = [o.file.name for o in battle.outputs.all()]
    assert all(files) and all(default_storage.exists(name) for name in files)
    stale = [n for n in default_storage.listdir("outputs")[1] if first.token in n]
    assert [f"outputs/{n}" for n in stale if f"outputs/{n}" not in files] == []  # no orphan
    instant.instant_output_generate(entry_id=first.pk)  # a third delivery, after the battle
    assert all(default_storage.exists(name) for name in files)
    assert not InstantOutput.objects.filter(consumed_at__isnull=True, status="ready").exists()


# ------------------------------------------------------------------------------------ votes
def test_a_bot_voting_the_moment_an_instant_battle_opens_is_not_counted(
    demo_arena: Any,
    instant_on: None,
    run_on_commit: Any,
    voter: Any,
    settings: Any,
    monkeypatch: Any,
) -> None:
    """ready_at of an instant battle is its creation (when its voter first gets the outputs),
    not when the stock was made: a vote sent with the creation's answer is "too fast"."""
    _no_refill(monkeypatch)
    settings.ARENA_MIN_VOTE_SECONDS = 1.0
    arena = _arena(stock=2, playing=2)
    _fill(run_on_commit, arena)
    InstantOutput.objects.update(finished_at=timezone.now() - timedelta(minutes=5))
    state = voter.post(f"/api/arenas/{SLUG}/battles", {"random_prompt": True}).json()
    assert state["status"] == "ready"
    battle = Battle.objects.get(pk=state["id"])
    answer = voter.post(f"/api/battles/{state['id']}/vote", {"choice": "left"}).json()
    assert answer["counted"] is False and "too soon" in answer["not_counted_reason"]
    assert battle.ready_at is not None
    assert abs(battle.ready_at - battle.created_at) < timedelta(seconds=1)
    # a human who looks for the minimum time is counted as on a live battle
    state = voter.post(f"/api/arenas/{SLUG}/battles", {"random_prompt": True}).json()
    assert state["status"] == "ready"
    Battle.objects.filter(pk=state["id"]).update(ready_at=timezone.now() - timedelta(seconds=1.5))
    assert voter.post(f"/api/battles/{state['id']}/vote", {"choice": "left"}).json()["counted"]


def test_an_instant_battle_reads_like_a_live_one_once_ready(
    demo_arena: Any, instant_on: None, run_on_commit: Any, voter: Any, monkeypatch: Any
) -> None:
    """Nothing the voter receives names the stock: the state has the same fields (no timings,
    seed or parameters used), the files the same headers (no file name, which for stock holds
    the stock's token; no date; one byte count for both sides)."""
    _no_refill(monkeypatch)
    arena = _arena(stock=1, playing=2)
    _fill(run_on_commit, arena)
    fast = voter.post(f"/api/arenas/{SLUG}/battles", {"random_prompt": True}).json()
    assert fast["status"] == "ready"
    live = run_on_commit(voter.post, f"/api/arenas/{SLUG}/battles", {"random_prompt": True}).json()
    live = voter.get(f"/api/battles/{live['id']}").json()
    assert live["status"] == "ready"
    assert (
        not Battle.objects.get(pk=live["id"])
        .outputs.filter(file__in=InstantOutput.objects.values("file"))
        .exclude(file="")
        .exists()
    )

    def shape(state: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted(state)), tuple(tuple(sorted(o)) for o in state["outputs"])

    assert shape(fast) == shape(live)
    text = repr(fast).casefold()
    assert not any(word in text for word in ("latency", "seed", "instant", "stock", "_at"))

    def headers(state: dict[str, Any]) -> list[dict[str, str]]:
        got = []
        for side in state["outputs"]:
            response = voter.get(side["url"])
            assert response.status_code == 200
            got.append({k.casefold(): v for k, v in response.items()})
        return got

    fast_headers, live_headers = headers(fast), headers(live)
    entry_tokens = set(InstantOutput.objects.values_list("token", flat=True))
    for one in (*fast_headers, *live_headers):
        assert one["content-disposition"] == "inline"
        assert "last-modified" not in one and "etag" not in one
        assert not any(token in value for token in entry_tokens for value in one.values())
    assert fast_headers[0] == fast_headers[1]  # byte count included: padded alike
    assert {k for h in fast_headers for k in h} == {k for h in live_headers for k in h}


def test_stock_a_battle_took_is_never_served_again_even_once_that_battle_is_gone(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    """Deleting the battle (an operator, retention) must not return its outputs to the stock:
    they were shown once, so their bytes may be known with their model."""
    _no_refill(monkeypatch)
    arena = _arena(stock=1, playing=2)
    _fill(run_on_commit, arena)
    first = _random_battle(run_on_commit, "v1")
    assert first.status == BattleStatus.READY
    shown = set(first.outputs.values_list("file", flat=True))
    Battle.objects.filter(pk=first.pk).delete()
    assert InstantOutput.objects.filter(consumed_at__isnull=False).count() == 2
    again = _random_battle(run_on_commit, "v2")
    assert again.status != BattleStatus.READY
    assert not shown & set(again.outputs.values_list("file", flat=True))
    instant.instant_stock_clean()
    assert InstantOutput.objects.filter(consumed_at__isnull=True, status="ready").count() == 0


def test_a_prompt_seen_again_tells_nothing_about_the_pair(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    """Sybils: one votes and sees its pair revealed; another later gets the same prompt from
    the stock. Had a prompt's outputs gone to several battles, that second pair could share no
    model with the first (with five models three pairs left of ten). A prompt serves one
    pre-drawn battle: it is never seen again from the stock, refills included."""
    _no_refill(monkeypatch)
    arena = _arena(stock=6)
    bank = Prompt.objects.filter(source=Prompt.Source.BANK, modality=arena.modality)
    # a bank of exactly the prompts three fills need: any reuse would show
    bank.exclude(pk__in=list(bank.order_by("pk").values_list("pk", flat=True)[:18])).delete()
    seen: dict[int, list[set[int]]] = {}
    served = 0
    for round_ in range(3):
        _fill(run_on_commit, arena)
        for seed in range(8):
            voter = f"sybil{round_}-{seed}"
            battle = _random_battle(run_on_commit, voter, rng=random.Random(seed))
            if battle.status == BattleStatus.READY:
                served += 1
                seen.setdefault(battle.prompt_id, []).append({battle.left_id, battle.right_id})
    again = [pairs for pairs in seen.values() if len(pairs) > 1]
    assert served == 18  # the stock served every battle it held
    assert not again, f"prompts served again: {again}"


# ----------------------------------------------------------------------- budget and liveness
def test_the_stock_costs_two_outputs_per_battle_and_never_stalls(
    demo_arena: Any, instant_on: None, run_on_commit: Any, settings: Any
) -> None:
    """Whole battles are made in advance: each costs its two outputs, none left alone on a
    prompt (which, counted as stock, would stop the fill while no pair can take it), and with
    the refill after each battle the stock keeps up."""
    settings.ARENA_INSTANT_DEBOUNCE_S = 0  # every battle may top up (inline)
    arena = _arena(stock=2)
    assert len(contenders_playing(arena=arena)) == 5
    _fill(run_on_commit, arena)
    statuses = [
        _random_battle(run_on_commit, f"v{seed}", rng=random.Random(seed)).status
        for seed in range(30)
    ]
    assert statuses.count(BattleStatus.READY) == 30, statuses
    made = InstantOutput.objects.count()
    in_stock = InstantOutput.objects.filter(consumed_at__isnull=True, status="ready").count()
    assert made == 2 * 30 + in_stock and in_stock == 2 * 2
    alone = [
        draw
        for draw, n in InstantOutput.objects.filter(
            consumed_at__isnull=True, status__in=instant.IN_STOCK
        )
        .values_list("draw")
        .annotate(n=Count("pk"))
        if n != 2
    ]
    assert alone == []


def test_draining_the_stock_is_held_to_the_battle_rate_limits(
    demo_arena: Any,
    instant_on: None,
    run_on_commit: Any,
    make_voter: Any,
    settings: Any,
    monkeypatch: Any,
) -> None:
    """An instant battle spends the same creation budget as a live one, per voter and per
    network: many voter ids from one address take no more stock than one address may."""
    _no_refill(monkeypatch)
    settings.ARENA_RATE_BATTLES_PER_VOTER = 2
    settings.ARENA_RATE_BATTLES_PER_ADDRESS = 3
    arena = _arena(stock=6, playing=2)
    _fill(run_on_commit, arena)
    first, second = make_voter(), make_voter()
    codes = [
        client.post(f"/api/arenas/{SLUG}/battles", {"random_prompt": True}).status_code
        for client in (first, second, first, second, first)
    ]
    assert codes == [201, 201, 201, 429, 429]  # the address's third, then its limit
    assert InstantOutput.objects.filter(consumed_at__isnull=False).count() == 3 * 2
