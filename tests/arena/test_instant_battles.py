"""Instant battles (arena/battles/instant.py): battles drawn by the sampler and made in advance
on bank prompts, taken by random-prompt battles at the default parameters. The pairs follow
the sampler and the battle stores the probability of the stored draw, each pre-drawn battle
is served to one battle only, never on a prompt its voter already used, and stock of a
changed model is never served."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from arena.battles import instant, services
from arena.battles.models import (
    Arena,
    Battle,
    BattleStatus,
    Contender,
    InstantOutput,
    Output,
    OutputStatus,
    Prompt,
    Provider,
)
from arena.battles.selectors import contenders_playing

SLUG = "text-to-image"


def _arena(*, stock: int, playing: int | None = None) -> Arena:
    """The demo image arena with `stock` per model; only the first `playing` models play."""
    arena = Arena.objects.get(slug=SLUG)
    arena.instant_stock = stock
    arena.save(update_fields=["instant_stock"])
    if playing is not None:
        for contender in contenders_playing(arena=arena)[playing:]:
            contender.enabled = False
            contender.save(update_fields=["enabled"])
    return arena


def _fill(run_on_commit: Any, arena: Arena) -> int:
    """Fill the stock through the real path: the fill, then each output's task (inline)."""
    return int(run_on_commit(instant.instant_stock_fill, arena_id=arena.pk))


def _no_refill(monkeypatch: Any) -> None:
    """Keep the stock as the test made it (a taken output otherwise tops it up at once)."""
    monkeypatch.setattr(instant, "stock_fill_soon", lambda **_: None)


def _random_battle(run_on_commit: Any, voter_id: str, **kwargs: Any) -> Battle:
    return run_on_commit(
        services.battle_create, arena_slug=SLUG, voter_id=voter_id, random_prompt=True, **kwargs
    )


def test_fill_makes_pre_drawn_battles_of_two_outputs_through_the_task_code(
    demo_arena: Any, instant_on: None, run_on_commit: Any
) -> None:
    arena = _arena(stock=3)
    playing = contenders_playing(arena=arena)
    paused = playing[-1]
    Contender.objects.filter(pk=paused.pk).update(paused_at=timezone.now())
    assert _fill(run_on_commit, arena) == 2 * 3  # two outputs per battle, whatever N
    entries = list(InstantOutput.objects.filter(arena=arena))
    assert {e.status for e in entries} == {OutputStatus.READY}
    assert paused.pk not in {e.contender_id for e in entries}
    draws: dict[Any, list[InstantOutput]] = {}
    for entry in entries:
        draws.setdefault(entry.draw, []).append(entry)
        # normalised and stored like a battle's side: the arena's default form, as WebP
        assert (entry.width, entry.height, entry.content_type) == (512, 512, "image/webp")
        assert default_storage.exists(entry.file.name)
        assert entry.params == {"aspect_ratio": "1:1"}
        assert entry.params_used["delivered"]["aspect_ratio"] == "1:1"
    assert len(draws) == 3
    for pair in draws.values():
        left, right = sorted(pair, key=lambda e: e.side)
        assert (left.side, right.side) == ("left", "right")
        assert left.contender_id != right.contender_id
        assert left.prompt_id == right.prompt_id and left.seed == right.seed
        assert left.sampling_probability == right.sampling_probability
        assert left.sampling_probability is not None and 0 < left.sampling_probability <= 1
    # each prompt is used by exactly one pre-drawn battle
    assert len({pair[0].prompt_id for pair in draws.values()}) == 3
    assert _fill(run_on_commit, arena) == 0  # full: nothing more


def test_a_random_battle_takes_stock_and_is_ready_at_once_served_by_its_tokens(
    demo_arena: Any, instant_on: None, run_on_commit: Any, voter: Any, monkeypatch: Any
) -> None:
    _no_refill(monkeypatch)
    arena = _arena(stock=1)
    _fill(run_on_commit, arena)
    response = voter.post(f"/api/arenas/{SLUG}/battles", {"random_prompt": True})
    assert response.status_code == 201, response.content
    state = response.json()
    assert state["status"] == "ready"
    battle = Battle.objects.get(pk=state["id"])
    assert battle.ready_at is not None and battle.prompt.source == Prompt.Source.BANK
    taken = InstantOutput.objects.filter(consumed_by=battle)
    assert {(e.side, e.contender_id) for e in taken} == {
        ("left", battle.left_id),
        ("right", battle.right_id),
    }  # the stored draw's sides
    assert {e.prompt_id for e in taken} == {battle.prompt_id}
    entry_tokens = set(taken.values_list("token", flat=True))
    for output in battle.outputs.all():
        assert output.status == OutputStatus.READY and output.token not in entry_tokens
        assert output.seed == battle.seed
    for side in state["outputs"]:
        served = voter.get(side["url"])
        assert served.status_code == 200 and served["Content-Type"] == "image/webp"
        assert b"".join(served.streaming_content)[:4] == b"RIFF"


def _pair_probability(arena: Arena, a: int, b: int) -> float:
    """The sampler's probability of the unordered pair {a, b} now."""
    from arena.battles.sampling import arena_pair_probabilities

    playing = contenders_playing(arena=arena)
    sampling = arena_pair_probabilities(
        arena_id=arena.pk,
        names=[c.name for c in playing],
        weights=[c.sampling_weight for c in playing],
    )
    index = {c.pk: i for i, c in enumerate(playing)}
    wanted = {index[a], index[b]}
    for i, j, p in zip(sampling.pair_i, sampling.pair_j, sampling.probability, strict=True):
        if {int(i), int(j)} == wanted:
            return float(p)
    raise AssertionError("pair not in the sampler")


def test_the_battle_stores_the_probability_of_the_stored_draw(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    _no_refill(monkeypatch)
    arena = _arena(stock=4)
    weights = [1.0, 2.0, 3.0, 4.0, 5.0]  # unequal: each pair has its own probability
    for contender, weight in zip(contenders_playing(arena=arena), weights, strict=True):
        Contender.objects.filter(pk=contender.pk).update(sampling_weight=weight)
    _fill(run_on_commit, arena)
    for n in range(4):
        battle = _random_battle(run_on_commit, f"v{n}")
        assert battle.status == BattleStatus.READY
        taken = InstantOutput.objects.filter(consumed_by=battle)
        stored = {e.sampling_probability for e in taken}
        assert stored == {battle.sampling_probability}
        assert battle.sampling_probability == pytest.approx(
            _pair_probability(arena, battle.left_id, battle.right_id)
        )


def test_the_pairs_drawn_in_advance_follow_the_sampler(demo_arena: Any, instant_on: None) -> None:
    """Fills with fixed weights and seeded draws: the pair frequencies are the sampler's pair
    probabilities, and each pair shows up on both sides."""
    arena = _arena(stock=5)
    arena.instant_daily_outputs = 10**6
    arena.save(update_fields=["instant_daily_outputs"])
    playing = contenders_playing(arena=arena)
    for contender, weight in zip(playing, [1.0, 1.0, 2.0, 4.0, 8.0], strict=True):
        Contender.objects.filter(pk=contender.pk).update(sampling_weight=weight)
    counts: dict[frozenset[int], int] = {}
    lefts: dict[frozenset[int], set[int]] = {}
    draws = 0
    for seed in range(120):
        instant.instant_stock_fill(arena_id=arena.pk, rng=random.Random(seed))  # not made
        for entry in InstantOutput.objects.filter(side="left"):
            partner = InstantOutput.objects.get(draw=entry.draw, side="right")
            pair = frozenset((entry.contender_id, partner.contender_id))
            counts[pair] = counts.get(pair, 0) + 1
            lefts.setdefault(pair, set()).add(entry.contender_id)
            assert entry.sampling_probability == pytest.approx(
                _pair_probability(arena, entry.contender_id, partner.contender_id)
            )
            draws += 1
        InstantOutput.objects.all().delete()
    assert draws == 600
    for pair, n in counts.items():
        a, b = tuple(pair)
        assert n / draws == pytest.approx(_pair_probability(arena, a, b), abs=0.04), pair
    frequent = [pair for pair, n in counts.items() if n >= 30]
    assert frequent and all(len(lefts[pair]) == 2 for pair in frequent)  # sides at random


def test_each_output_made_in_advance_goes_to_one_battle_only(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    _no_refill(monkeypatch)
    arena = _arena(stock=2, playing=2)  # one pair: every battle asks for the same stock
    _fill(run_on_commit, arena)
    battles = [_random_battle(run_on_commit, voter) for voter in ("v1", "v2", "v3")]
    assert [b.status for b in battles] == [BattleStatus.READY, BattleStatus.READY, "pending"]
    files = [o.file.name for b in battles[:2] for o in b.outputs.all()]
    assert len(set(files)) == 4 and all(files)
    assert battles[0].prompt_id != battles[1].prompt_id
    assert not InstantOutput.objects.filter(consumed_at__isnull=True, status="ready").exists()
    consumed = InstantOutput.objects.values_list("consumed_by", flat=True)
    assert sorted(str(b) for b in consumed) == sorted(2 * [str(battles[0].pk), str(battles[1].pk)])


def test_never_a_prompt_the_voter_already_used_in_this_arena(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    _no_refill(monkeypatch)
    arena = _arena(stock=2, playing=2)
    _fill(run_on_commit, arena)
    oldest = InstantOutput.objects.order_by("created_at", "pk").first()
    assert oldest is not None
    # the voter typed the text of the prompt the stock would serve first
    run_on_commit(
        services.battle_create, arena_slug=SLUG, voter_id="v", prompt_text=oldest.prompt.text
    )
    second = _random_battle(run_on_commit, "v")
    assert second.status == BattleStatus.READY and second.prompt_id != oldest.prompt_id
    third = _random_battle(run_on_commit, "v")  # stock left only on a prompt it used
    assert third.status != BattleStatus.READY
    assert third.prompt.text_hash not in {oldest.prompt.text_hash, second.prompt.text_hash}
    assert InstantOutput.objects.filter(consumed_at__isnull=True, status="ready").count() == 2


def test_stock_of_a_changed_model_is_never_served_and_is_cleaned_away(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    _no_refill(monkeypatch)
    arena = _arena(stock=1, playing=3)
    _fill(run_on_commit, arena)
    entries = list(InstantOutput.objects.all())
    contender = Contender.objects.get(pk=entries[0].contender_id)
    contender.parameters = {"style": "pixel"}  # a different model now
    contender.save(update_fields=["parameters"])
    battle = _random_battle(run_on_commit, "v")
    assert battle.status != BattleStatus.READY
    # the pre-drawn battle is withdrawn whole: the unchanged partner's output cannot be
    # served alone
    assert run_on_commit(instant.instant_stock_clean) == 2
    assert not any(default_storage.exists(e.file.name) for e in entries)
    assert set(InstantOutput.objects.values_list("status", "error_code")) == {
        (OutputStatus.FAILED, "withdrawn")
    }


def test_stock_older_than_the_max_age_is_deleted_unserved(
    demo_arena: Any, instant_on: None, run_on_commit: Any, settings: Any
) -> None:
    arena = _arena(stock=1, playing=2)
    _fill(run_on_commit, arena)
    files = list(InstantOutput.objects.values_list("file", flat=True))
    assert instant.instant_stock_clean() == 0
    later = timezone.now() + timedelta(seconds=settings.ARENA_INSTANT_MAX_AGE_S + 1)
    assert run_on_commit(instant.instant_stock_clean, now=later) == 2
    assert not any(default_storage.exists(name) for name in files)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"params": {"aspect_ratio": "16:9"}},  # not the default parameters
        {"random_prompt": False, "prompt_text": "a lighthouse"},  # a typed prompt
        {"side_by_side": True},  # named side by side
    ],
)
def test_other_battles_are_generated_live(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any, kwargs: Any
) -> None:
    _no_refill(monkeypatch)
    arena = _arena(stock=1, playing=2)
    _fill(run_on_commit, arena)
    if kwargs.pop("side_by_side", False):
        kwargs["pair"] = tuple(contenders_playing(arena=arena))
    kwargs.setdefault("random_prompt", True)
    battle = run_on_commit(services.battle_create, arena_slug=SLUG, voter_id="v", **kwargs)
    assert battle.status != BattleStatus.READY
    assert not InstantOutput.objects.filter(consumed_at__isnull=False).exists()


def test_the_arena_list_says_which_arenas_are_instant(
    demo_arena: Any, instant_on: None, voter: Any
) -> None:
    listed = {a["slug"]: a["instant"] for a in voter.get("/api/arenas").json()}
    assert listed == {"text-to-image": True, "text-to-video": True, "image-editing": False}


def test_edit_battles_are_never_instant(demo_arena: Any, instant_on: None) -> None:
    arena = _arena(stock=1)
    params = instant.default_params(arena)
    eligible = {"arena": arena, "random_prompt": True, "side_by_side": False, "params": params}
    assert instant.instant_eligible(editing=False, **eligible)
    assert not instant.instant_eligible(editing=True, **eligible)
    edit = Arena.objects.get(modality="image_edit")
    edit.instant_stock = 3
    assert not instant.instant_eligible(
        editing=False, **{**eligible, "arena": edit, "params": instant.default_params(edit)}
    )


def test_the_daily_count_budget_stops_the_fill(
    demo_arena: Any, instant_on: None, run_on_commit: Any
) -> None:
    arena = _arena(stock=3)
    arena.instant_daily_outputs = 3  # one battle's two outputs fit, not two battles'
    arena.save(update_fields=["instant_daily_outputs"])
    assert _fill(run_on_commit, arena) == 2
    assert _fill(run_on_commit, arena) == 0


def test_the_daily_cost_budget_stops_the_fill(
    demo_arena: Any, instant_on: None, run_on_commit: Any
) -> None:
    arena = _arena(stock=3)
    Provider.objects.update(cost_per_output=Decimal("0.01"))
    arena.instant_daily_cost = Decimal("0.04")  # two battles (two outputs each), not three
    arena.save(update_fields=["instant_daily_cost"])
    assert _fill(run_on_commit, arena) == 4
    assert _fill(run_on_commit, arena) == 0


def test_failures_made_in_advance_count_toward_the_models_health(
    demo_arena: Any, instant_on: None, run_on_commit: Any, settings: Any
) -> None:
    settings.ARENA_PAUSE_AFTER_FAILURES = 2
    arena = _arena(stock=2, playing=2)
    broken = contenders_playing(arena=arena)[0]
    Contender.objects.filter(pk=broken.pk).update(parameters={"style": "no-such-style"})
    _fill(run_on_commit, arena)
    broken.refresh_from_db()
    assert broken.failure_streak == 2 and broken.paused_at is not None
    failed = InstantOutput.objects.filter(contender=broken)
    assert {e.status for e in failed} == {OutputStatus.FAILED}
    # the other half of each pre-drawn battle is withdrawn with it: no battle can take it
    partners = InstantOutput.objects.exclude(contender=broken)
    assert set(partners.values_list("status", "error_code")) == {
        (OutputStatus.FAILED, "partner_failed")
    }
    assert not any(default_storage.exists(e.file.name) for e in partners if e.file)


def test_a_taken_output_tops_the_stock_up(
    demo_arena: Any, instant_on: None, run_on_commit: Any
) -> None:
    arena = _arena(stock=1, playing=2)
    _fill(run_on_commit, arena)
    assert _random_battle(run_on_commit, "v").status == BattleStatus.READY
    ready = InstantOutput.objects.filter(consumed_at__isnull=True, status=OutputStatus.READY)
    assert ready.count() == 2  # made again at once (inline tasks) for another prompt
    assert ready.first().prompt_id != Battle.objects.get().prompt_id  # type: ignore[union-attr]


@pytest.mark.django_db(transaction=True)
def test_two_battles_at_once_never_share_an_output(
    instant_on: None, monkeypatch: Any, settings: Any
) -> None:
    """PostgreSQL, two connections: both claims run together on a stock of one battle."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    from django.db import connections

    from arena.battles.demo_data import demo_load

    demo_load()
    _no_refill(monkeypatch)
    arena = _arena(stock=1, playing=2)
    instant.instant_stock_fill(arena_id=arena.pk)  # outputs made inline on commit
    assert InstantOutput.objects.filter(status="ready").count() == 2
    real_claim = instant.stock_claim
    both = threading.Barrier(2)

    def claim_together(**kwargs: Any) -> Any:
        both.wait(timeout=10)
        claimed = real_claim(**kwargs)
        time.sleep(0.3)  # hold the rows while the other looks
        return claimed

    monkeypatch.setattr(instant, "stock_claim", claim_together)
    made: list[Battle] = []
    errors: list[BaseException] = []

    def one(voter_id: str) -> None:
        try:
            made.append(
                services.battle_create(arena_slug=SLUG, voter_id=voter_id, random_prompt=True)
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(v,), name=v) for v in ("v1", "v2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(made) == 2
    taken = InstantOutput.objects.filter(consumed_at__isnull=False)
    assert taken.count() == 2 and len({e.consumed_by_id for e in taken}) == 1
    # the other battle was generated live: its own files (read now: the battles returned
    # carry their outputs as they were at creation)
    files = [o.file.name for o in Output.objects.filter(battle_id__in=[b.pk for b in made])]
    assert len(set(files)) == 4 and all(files)


def test_the_cost_report_counts_every_output_made_in_advance_once(
    demo_arena: Any, instant_on: None, run_on_commit: Any, monkeypatch: Any
) -> None:
    from arena.battles.selectors import costs_by_day

    _no_refill(monkeypatch)
    Provider.objects.update(cost_per_output=Decimal("0.01"))
    arena = _arena(stock=1, playing=2)
    _fill(run_on_commit, arena)

    def report() -> tuple[int, Decimal]:
        rows = costs_by_day()
        return sum(r["outputs"] for r in rows), sum(r["cost"] for r in rows)

    assert report() == (2, Decimal("0.02"))  # in stock: paid for, not yet in any battle
    assert _random_battle(run_on_commit, "v").status == BattleStatus.READY
    assert report() == (2, Decimal("0.02"))  # now the battle's outputs, counted once


def test_the_admin_shows_the_stock_read_only(
    demo_arena: Any, instant_on: None, run_on_commit: Any, admin_client: Any
) -> None:
    arena = _arena(stock=1, playing=2)
    _fill(run_on_commit, arena)
    arenas = admin_client.get("/admin/battles/arena/").content.decode()
    assert "1 battles: 1 / 0 / 0" in arenas
    stock = admin_client.get("/admin/battles/instantoutput/")
    assert stock.status_code == 200 and "Demo Aurora" in stock.content.decode()
    entry = InstantOutput.objects.first()
    assert entry is not None
    page = admin_client.get(f"/admin/battles/instantoutput/{entry.pk}/change/")
    assert page.status_code == 200 and b'name="status"' not in page.content  # read only
    assert admin_client.get("/admin/battles/instantoutput/add/").status_code == 403


def test_video_stock_is_made_and_served_with_its_poster(
    demo_arena: Any, instant_on: None, run_on_commit: Any, voter: Any, monkeypatch: Any
) -> None:
    _no_refill(monkeypatch)
    arena = Arena.objects.get(slug="text-to-video")
    arena.instant_stock = 1
    arena.save(update_fields=["instant_stock"])
    for contender in contenders_playing(arena=arena)[2:]:
        Contender.objects.filter(pk=contender.pk).update(enabled=False)
    assert _fill(run_on_commit, arena) == 2
    assert {e.status for e in InstantOutput.objects.filter(arena=arena)} == {"ready"}
    response = voter.post("/api/arenas/text-to-video/battles", {"random_prompt": True})
    state = response.json()
    assert state["status"] == "ready", state
    for side in state["outputs"]:
        assert voter.get(side["url"])["Content-Type"].startswith("video/")
        assert voter.get(side["poster"])["Content-Type"] == "image/webp"


def test_stock_stuck_on_the_way_is_withdrawn_after_the_arena_timeout(
    demo_arena: Any, instant_on: None, settings: Any
) -> None:
    arena = _arena(stock=1, playing=2)
    with_no_worker = instant.instant_stock_fill(arena_id=arena.pk)  # queued, never run
    assert with_no_worker == 2
    stuck = InstantOutput.objects.filter(status=OutputStatus.PENDING)
    assert stuck.count() == 2
    assert instant.instant_stock_clean() == 0  # not late yet
    late = timezone.now() + timedelta(
        seconds=arena.generation_timeout_s + settings.ARENA_STALE_GRACE_S + 1
    )
    assert instant.instant_stock_clean(now=late) == 2
    assert set(InstantOutput.objects.values_list("error_code", flat=True)) == {"timeout"}


def test_the_periodic_task_tops_up_every_instant_arena(
    demo_arena: Any, instant_on: None, run_on_commit: Any
) -> None:
    from arena.battles.tasks import instant_stock_task

    _arena(stock=1)
    Arena.objects.filter(slug="text-to-video").update(instant_stock=0)
    queued = run_on_commit(instant_stock_task)
    assert queued == 2
    assert set(InstantOutput.objects.values_list("status", flat=True)) == {"ready"}


def test_the_cleanup_withdraws_half_failed_and_undrawn_stock_whole(
    demo_arena: Any, instant_on: None, run_on_commit: Any
) -> None:
    """A pre-drawn battle with one output failed cannot be served: its other half goes too
    (both files); so does stock without a draw (made per model before the pre-drawn design)."""
    arena = _arena(stock=2, playing=2)
    _fill(run_on_commit, arena)
    first, second = InstantOutput.objects.order_by("created_at", "pk")[:2]
    assert first.draw == second.draw
    InstantOutput.objects.filter(pk=first.pk).update(status=OutputStatus.FAILED)
    undrawn = InstantOutput.objects.exclude(draw=first.draw).order_by("pk").first()
    assert undrawn is not None
    InstantOutput.objects.filter(pk=undrawn.pk).update(draw=None)
    assert run_on_commit(instant.instant_stock_clean) == 3
    assert not default_storage.exists(second.file.name)
    assert not default_storage.exists(undrawn.file.name)
    codes = dict(InstantOutput.objects.values_list("pk", "error_code"))
    assert codes[second.pk] == "partner_failed" and codes[undrawn.pk] == "withdrawn"
