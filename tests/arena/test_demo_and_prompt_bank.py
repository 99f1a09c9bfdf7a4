"""Demo data is loaded once, on a fresh database (never with ARENA_DEMO=0); the prompt bank is
shipped as data, large and varied, and never hands a voter a prompt they already used."""

from __future__ import annotations

import random
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from arena.battles import services
from arena.battles.bank import bank_read, prompt_bank_load
from arena.battles.errors import InvalidInput
from arena.battles.models import Arena, Contender, Prompt, Provider, ProviderKind


def _load_demo(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def test_first_start_loads_the_demo_then_never_again(db: None) -> None:
    first = _load_demo("--if-fresh")
    assert "'text-to-image' ready with 5 demo contenders." in first
    assert "'text-to-video' ready with 4 demo video contenders." in first
    assert "'image-editing' ready with 5 demo image-editing contenders." in first
    arena = Arena.objects.get(slug="text-to-image")
    removed = Contender.objects.get(name="Demo Static")
    arena.contenders.remove(removed)  # the operator takes a demo model out
    message = _load_demo("--if-fresh")  # the next `make run`
    assert "not loaded" in message
    assert not arena.contenders.filter(pk=removed.pk).exists()


def test_arena_demo_0_starts_without_demo_data(db: None, settings: Any) -> None:
    settings.ARENA_DEMO = False
    assert "ARENA_DEMO=0" in _load_demo("--if-fresh")
    assert not Arena.objects.exists() and not Contender.objects.exists()


def test_load_demo_counts_only_demo_contenders_as_demo(demo_arena: Arena) -> None:
    provider = Provider.objects.create(
        name="In-house", kind=ProviderKind.GENERIC_HTTP, base_url="http://127.0.0.1:9/"
    )
    mine = Contender.objects.create(name="Our model", provider=provider)
    mine.arenas.add(demo_arena)
    message = _load_demo()
    assert "ready with 5 demo contenders, plus 1 other contender." in message


def test_the_shipped_bank_has_hundreds_of_distinct_image_prompts() -> None:
    image = bank_read("image")
    texts = [p.text for p in image]
    assert len(texts) >= 300 and len(set(texts)) == len(texts)
    assert len({p.category for p in image}) >= 12
    assert len(bank_read("video")) >= 180 and len(bank_read("text")) >= 180
    # varied, not a template: few prompts share their first three words
    openings = {" ".join(t.split()[:3]).lower() for t in texts}
    assert len(openings) > 0.85 * len(texts)


def test_the_bank_loads_once_and_is_filled_on_demand(db: None) -> None:
    assert prompt_bank_load(modality="image") == len(bank_read("image"))
    assert prompt_bank_load(modality="image") == 0
    out = StringIO()
    call_command("load_prompts", stdout=out)
    others = sum(len(bank_read(m)) for m in ("video", "text", "image_edit"))
    assert f"{others} new prompts" in out.getvalue()


def test_random_prompts_never_repeat_for_one_voter(demo_arena: Arena) -> None:
    bank = Prompt.objects.filter(source=Prompt.Source.BANK, modality="image")
    # a small bank makes a repeat near certain without the rule
    bank.exclude(pk__in=list(bank.order_by("pk").values_list("pk", flat=True)[:6])).delete()
    rng = random.Random(5)
    seen = []
    for _ in range(6):
        battle = services.battle_create(
            arena_slug="text-to-image", voter_id="v1", random_prompt=True, rng=rng
        )
        seen.append(battle.prompt.text_hash)
    assert len(set(seen)) == 6
    with pytest.raises(InvalidInput, match="used every prompt"):
        services.battle_create(
            arena_slug="text-to-image", voter_id="v1", random_prompt=True, rng=rng
        )
    # another voter still draws from the whole bank
    services.battle_create(arena_slug="text-to-image", voter_id="v2", random_prompt=True, rng=rng)


def test_a_prompt_the_voter_typed_is_not_drawn_for_them_either(demo_arena: Arena) -> None:
    bank = Prompt.objects.filter(source=Prompt.Source.BANK, modality="image").order_by("pk")
    keep = list(bank.values_list("pk", flat=True)[:2])
    bank.exclude(pk__in=keep).delete()
    typed = Prompt.objects.get(pk=keep[0]).text.upper()  # same prompt, typed differently
    services.battle_create(arena_slug="text-to-image", voter_id="v1", prompt_text=typed)
    battle = services.battle_create(
        arena_slug="text-to-image", voter_id="v1", random_prompt=True, rng=random.Random(1)
    )
    assert battle.prompt.pk == keep[1]
    with pytest.raises(InvalidInput, match="used every prompt"):
        services.battle_create(arena_slug="text-to-image", voter_id="v1", random_prompt=True)
