"""The demo arena: CPU-only contenders (named as demo material) and a prompt bank."""

from __future__ import annotations

from django.db import transaction

from arena.battles.demo_video_data import demo_video_load
from arena.battles.models import Arena, Contender, Modality, Prompt, Provider, ProviderKind

DEMO_CONTENDERS = [
    # (name, organisation, style)
    ("Demo Aurora", "Demo Lab North", "aurora"),
    ("Demo Mosaic", "Demo Lab East", "mosaic"),
    ("Demo Sketch", "Demo Lab South", "sketch"),
    ("Demo Pixel", "Demo Lab West", "pixel"),
    ("Demo Static", "Demo Lab Zero", "noise"),
]

PROMPT_BANK = [
    ("a lighthouse on a cliff at sunset, oil painting", "landscape"),
    ("a red fox sleeping in a snowy forest", "animals"),
    ("a neon city street at night in the rain", "urban"),
    ("a bowl of ramen on a wooden table, studio photo", "food"),
    ("an astronaut riding a horse across a desert", "surreal"),
    ("a cozy reading nook with plants and warm light", "interior"),
    ("a portrait of an old sailor, charcoal sketch", "portrait"),
    ("a blue whale swimming under the arctic ice", "animals"),
    ("a medieval castle on a hill above a green valley", "landscape"),
    ("a poster that says 'OPEN ARENA' in bold letters", "text"),
    ("a purple dragon made of glass, studio lighting", "fantasy"),
    ("a sunset over the ocean with sailing boats", "landscape"),
]


@transaction.atomic
def demo_load() -> Arena:
    """Create or refresh the demo arena; safe to run at every start."""
    arena, _ = Arena.objects.get_or_create(
        slug="text-to-image",
        defaults={
            "title": "Text to Image",
            "description": "Two anonymous image models draw the same prompt. Pick the better.",
            "modality": Modality.IMAGE,
            "params": {"aspect_ratio": ["1:1", "16:9", "9:16", "4:3", "3:4"]},
        },
    )
    provider, _ = Provider.objects.get_or_create(
        name="Demo renderer", defaults={"kind": ProviderKind.DEMO, "max_concurrency": 8}
    )
    demo_video_load(provider=provider)  # the text-to-video arena (issue 11)
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
    for text, category in PROMPT_BANK:
        if not Prompt.objects.filter(text=text, source=Prompt.Source.BANK).exists():
            Prompt.objects.create(text=text, category=category, source=Prompt.Source.BANK,
                                  modality=Modality.IMAGE, language="en")
    return arena
