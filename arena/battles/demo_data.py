"""The demo arena: CPU-only contenders (named as demo material) and the image prompt bank."""

from __future__ import annotations

from django.db import transaction

from arena.battles.bank import prompt_bank_load
from arena.battles.demo_edit_data import demo_edit_load
from arena.battles.demo_video_data import demo_video_load
from arena.battles.models import Arena, Contender, Modality, Provider, ProviderKind

# Instant battles (instant.py) in the demo arenas: battles drawn and made in advance.
DEMO_INSTANT_STOCK = 6

DEMO_CONTENDERS = [
    # (name, organisation, style)
    ("Demo Aurora", "Demo Lab North", "aurora"),
    ("Demo Mosaic", "Demo Lab East", "mosaic"),
    ("Demo Sketch", "Demo Lab South", "sketch"),
    ("Demo Pixel", "Demo Lab West", "pixel"),
    ("Demo Static", "Demo Lab Zero", "noise"),
]


@transaction.atomic
def demo_load() -> Arena:
    """Create or refresh the demo arena and its contenders (idempotent).

    `make run` calls it only on a fresh database (see `database_is_fresh`), so a demo contender
    the operator removed stays removed."""
    arena, _ = Arena.objects.get_or_create(
        slug="text-to-image",
        defaults={
            "title": "Text to Image",
            "description": "Two anonymous image models draw the same prompt. Pick the better.",
            "modality": Modality.IMAGE,
            "params": {"aspect_ratio": ["1:1", "16:9", "9:16", "4:3", "3:4"]},
            "instant_stock": DEMO_INSTANT_STOCK,
        },
    )
    provider, _ = Provider.objects.get_or_create(
        name="Demo renderer", defaults={"kind": ProviderKind.DEMO, "max_concurrency": 8}
    )
    demo_video_load(provider=provider)  # the text-to-video arena (issue 11)
    image_contenders = []
    for name, org, style in DEMO_CONTENDERS:
        contender, _ = Contender.objects.get_or_create(
            name=name,
            defaults={
                "organization": org,
                "provider": provider,
                "model_id": f"demo-{style}",
                "parameters": {"style": style},
                "license": "demo material",
            },
        )
        contender.arenas.add(arena)
        image_contenders.append(contender)
    demo_edit_load(contenders=image_contenders)  # the image-editing arena (issue 11)
    prompt_bank_load(modality=Modality.IMAGE)
    return arena


def database_is_fresh() -> bool:
    """Nothing registered yet: no arena, provider or contender (the operator has not begun)."""
    return not (Arena.objects.exists() or Provider.objects.exists() or Contender.objects.exists())


def demo_counts(arena: Arena) -> tuple[int, int]:
    """(demo contenders, other contenders) playing in the arena."""
    demo = arena.contenders.filter(provider__kind=ProviderKind.DEMO).count()
    return demo, arena.contenders.count() - demo
