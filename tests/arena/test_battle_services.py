"""Battle lifecycle services: creation, sampling, generation, failure and the sweeper."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from arena.battles import generation, services
from arena.battles.errors import InvalidInput, NotFound, Unavailable
from arena.battles.models import (
    Battle,
    BattleStatus,
    Contender,
    Output,
    OutputStatus,
    Prompt,
    RevealPolicy,
)
from arena.battles.sampling import pair_draw, pair_probabilities
from arena.battles.selectors import battle_get, battle_state
from ratings.sampling import uniform_pair_probabilities


def test_pair_draw_draws_two_distinct_contenders_with_their_probability() -> None:
    rng = random.Random(7)
    sampling = uniform_pair_probabilities(4, weights=[1.0, 2.0, 1.0, 0.0])
    pairs = Counter()
    for _ in range(4000):
        left, right, p = pair_draw(sampling, rng)
        assert left != right and 3 not in (left, right)
        pairs[frozenset((left, right))] += 1
        # the recorded probability is the exact probability of this unordered pair (∝ w_i w_j)
        expected = {frozenset((0, 1)): 0.4, frozenset((1, 2)): 0.4, frozenset((0, 2)): 0.2}[
            frozenset((left, right))
        ]
        assert p == pytest.approx(expected, abs=1e-9)
    assert pairs[frozenset((0, 2))] / 4000 == pytest.approx(0.2, abs=0.03)


def test_pair_draw_puts_each_contender_on_both_sides() -> None:
    rng = random.Random(3)
    sampling = uniform_pair_probabilities(2)
    lefts = Counter(pair_draw(sampling, rng)[0] for _ in range(1000))
    assert 400 < lefts[0] < 600


def test_pair_sampling_needs_two_live_contenders() -> None:
    with pytest.raises(ValueError):
        pair_probabilities(names=["a", "b"], weights=[1.0, 0.0], state=None)


def test_battle_create_stores_prompt_pair_and_two_pending_outputs(
    demo_arena: Any, rng: random.Random
) -> None:
    battle = services.battle_create(
        arena_slug="text-to-image", voter_id="v1", prompt_text="  a cat  ", rng=rng
    )
    assert battle.prompt.text == "a cat"
    assert battle.prompt.source == Prompt.Source.USER
    assert battle.left_id != battle.right_id
    assert {o.side for o in battle.outputs.all()} == {"left", "right"}
    assert 0 < battle.sampling_probability <= 1


def test_battle_create_queues_both_sides_where_an_insert_returns_no_ids(
    demo_arena: Any, run_on_commit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both outputs go in one INSERT, whose ids come back only where the database returns
    rows from a bulk insert (SQLite from 3.35; Django 5.2 runs on 3.31): elsewhere the sides
    were queued with no id, never generated, and the battle hung until the sweep failed it
    (found in review)."""
    from django.db import connection

    monkeypatch.setattr(
        type(connection.features), "can_return_rows_from_bulk_insert", False, raising=False
    )
    battle = run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id="v", prompt_text="a cat"
    )
    assert all(o.pk is not None for o in battle.outputs.all())
    assert battle_get(battle_id=battle.pk).status == BattleStatus.READY


def test_battle_create_with_random_prompt_uses_the_bank(
    demo_arena: Any, rng: random.Random
) -> None:
    battle = services.battle_create(
        arena_slug="text-to-image", voter_id="v1", random_prompt=True, rng=rng
    )
    assert battle.prompt.source == Prompt.Source.BANK


@pytest.mark.parametrize(
    ("prompt", "message"),
    [("", "empty"), ("   \n ", "empty"), ("x" * 10_000, "limit is 2,000"), (42, "text")],
)
def test_battle_create_refuses_bad_prompts(demo_arena: Any, prompt: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text=prompt)
    assert Battle.objects.count() == 0


def test_battle_create_unknown_arena_is_not_found(db: None) -> None:
    with pytest.raises(NotFound):
        services.battle_create(arena_slug="nope", voter_id="v", prompt_text="a cat")


def test_battle_create_needs_two_enabled_contenders(demo_arena: Any) -> None:
    Contender.objects.exclude(name="Demo Aurora").update(enabled=False)
    with pytest.raises(Unavailable, match="at least two"):
        services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")


def test_battle_create_only_draws_enabled_contenders(demo_arena: Any) -> None:
    Contender.objects.exclude(name__in=["Demo Aurora", "Demo Pixel"]).update(enabled=False)
    for seed in range(10):
        battle = services.battle_create(
            arena_slug="text-to-image", voter_id="v", prompt_text="a cat", rng=random.Random(seed)
        )
        assert {battle.left.name, battle.right.name} == {"Demo Aurora", "Demo Pixel"}


def _webp_chunks(data: bytes) -> list[bytes]:
    """The RIFF chunk names of a WebP file (metadata lives in EXIF/XMP/ICCP chunks; a byte
    search would also hit those letters by chance inside the compressed image data)."""
    names, at = [], 12
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        names.append(data[at : at + 4])
        at += 8 + size + (size & 1)
    assert at == len(data), "chunk sizes must add up to the file"
    return names


def test_generation_makes_the_battle_ready_with_clean_webp_outputs(
    demo_arena: Any, run_on_commit: Any
) -> None:
    battle = run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id="v", prompt_text="a red fox"
    )
    battle = battle_get(battle_id=battle.pk)
    assert battle.status == BattleStatus.READY
    for output in battle.outputs.all():
        assert output.status == OutputStatus.READY
        assert output.content_type == "image/webp"
        assert output.file.name.endswith(f"{output.token}.webp")
        data = output.file.read()
        assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        assert not {b"EXIF", b"XMP ", b"ICCP"} & set(_webp_chunks(data))
        assert output.latency_s is not None and output.latency_s < 5


def test_generation_is_idempotent_for_a_redelivered_task(
    demo_arena: Any, run_on_commit: Any
) -> None:
    battle = run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id="v", prompt_text="a red fox"
    )
    output = battle.outputs.first()
    before = Output.objects.get(pk=output.pk)
    generation.output_generate(output_id=output.pk)  # a second delivery of the same task
    after = Output.objects.get(pk=output.pk)
    assert after.file.name == before.file.name and after.attempts == before.attempts == 1
    assert Output.objects.filter(battle=battle).count() == 2


def test_a_refused_side_fails_the_battle_with_a_readable_reason(
    demo_arena: Any, run_on_commit: Any
) -> None:
    battle = run_on_commit(
        services.battle_create,
        arena_slug="text-to-image",
        voter_id="v",
        prompt_text="something forbidden",
    )
    battle = Battle.objects.get(pk=battle.pk)
    assert battle.status == BattleStatus.FAILED
    assert "could not produce an image" in battle.failure_reason
    assert "Nothing was counted" in battle.failure_reason
    failed = Output.objects.filter(battle=battle, status=OutputStatus.FAILED)
    assert sorted(failed.values_list("error_code", flat=True)) == ["cancelled", "moderation"]
    failed = failed.filter(error_code="moderation")
    # the provider's own words are kept for operators, never shown to the voter
    assert "demo refused" in failed.first().error
    assert "demo" not in battle.failure_reason.lower()


def test_missing_api_key_environment_variable_fails_cleanly(
    demo_arena: Any, run_on_commit: Any, monkeypatch: Any
) -> None:
    from arena.battles.models import Provider

    Provider.objects.update(api_key_env="ARENA_TEST_MISSING_KEY")
    monkeypatch.delenv("ARENA_TEST_MISSING_KEY", raising=False)
    battle = run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id="v", prompt_text="a cat"
    )
    battle = Battle.objects.get(pk=battle.pk)
    assert battle.status == BattleStatus.FAILED
    assert "misconfigured" in battle.failure_reason
    assert Output.objects.filter(battle=battle, error_code="bad_configuration").exists()


def test_together_policy_hides_a_ready_side_until_both_are_ready(demo_arena: Any) -> None:
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    assert battle.arena.reveal_policy == RevealPolicy.TOGETHER
    generation.output_generate(output_id=battle.outputs.get(side="left").pk)
    state = battle_state(battle_get(battle_id=battle.pk))
    # one status for both sides: neither which side started first nor which is done shows
    assert [o["status"] for o in state["outputs"]] == ["generating", "generating"]
    assert all(o["url"] is None for o in state["outputs"])
    battle.arena.reveal_policy = RevealPolicy.AS_READY
    battle.arena.save()
    state = battle_state(battle_get(battle_id=battle.pk))
    assert state["outputs"][0]["status"] == "ready" and state["outputs"][0]["url"]


def test_state_never_names_a_model_before_the_vote(demo_arena: Any, run_on_commit: Any) -> None:
    battle = run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id="v", prompt_text="a cat"
    )
    text = repr(battle_state(battle_get(battle_id=battle.pk)))
    for contender in Contender.objects.select_related("provider"):
        for name in (
            contender.name,
            contender.organization,
            contender.provider.name,
            contender.model_id,
        ):
            assert name not in text


def test_sweeper_fails_battles_stuck_generating(demo_arena: Any) -> None:
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    assert services.battles_fail_stale() == 0
    later = timezone.now() + timedelta(seconds=battle.arena.generation_timeout_s + 60)
    assert services.battles_fail_stale(now=later) == 1
    battle = Battle.objects.get(pk=battle.pk)
    assert battle.status == BattleStatus.FAILED and "took too long" in battle.failure_reason
    assert not battle.outputs.exclude(status=OutputStatus.FAILED).exists()
    # a late result from the dead worker does not revive the battle
    generation.output_generate(output_id=battle.outputs.first().pk)
    assert Battle.objects.get(pk=battle.pk).status == BattleStatus.FAILED


def test_every_failure_code_a_provider_raises_is_in_the_one_table() -> None:
    """Output.error_code values come from FailureCode; the providers' codes are spelt once,
    in generators, and a voter never reads a code without a public wording or the default."""
    import generators.base as base
    from arena.battles.errors import PUBLIC_FAILURE, FailureCode
    from generators.netguard import UnsafeURL

    provider_codes = {
        cls.code
        for cls in (
            base.ModerationRefused,
            base.RateLimited,
            base.GenerationTimeout,
            base.BadConfiguration,
            base.ProviderError,
            UnsafeURL,
        )
    }
    assert provider_codes <= set(FailureCode)
    assert set(PUBLIC_FAILURE) <= set(FailureCode)
    assert FailureCode.CANCELLED not in PUBLIC_FAILURE  # never the reason shown for a battle
