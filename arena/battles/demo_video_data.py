"""The demo text-to-video arena: CPU demo contenders (short clips, no key, no GPU), the
parameters voters may choose, and the shipped video prompt bank (prompt_bank/video.txt)."""

from __future__ import annotations

from arena.battles.bank import prompt_bank_load
from arena.battles.models import Arena, Contender, Modality, Provider

VIDEO_ARENA_PARAMS = {
    "aspect_ratio": ["16:9", "9:16", "1:1"],
    "resolution": ["480p", "720p"],
    "duration_s": [4, 8],
}

DEMO_VIDEO_CONTENDERS = [
    # (name, organisation, style): each style renders at its own native size, fps, length and
    # codec (generators/demo_video.py), like different real providers
    ("Demo Aurora Motion", "Demo Lab North", "aurora"),
    ("Demo Mosaic Motion", "Demo Lab East", "mosaic"),
    ("Demo Sketch Motion", "Demo Lab South", "sketch"),
    ("Demo Static Motion", "Demo Lab Zero", "noise"),
]


def demo_video_load(*, provider: Provider) -> Arena:
    """Create the demo video arena, its demo contenders (on the demo `provider`) and add the
    video prompt bank; idempotent. The caller holds the transaction."""
    arena, _ = Arena.objects.get_or_create(
        slug="text-to-video",
        defaults={
            "title": "Text to Video",
            "description": "Two anonymous video models animate the same prompt. Pick the "
            "better clip.",
            "modality": Modality.VIDEO,
            "width": 854,
            "height": 480,
            "duration_s": 4.0,
            "params": VIDEO_ARENA_PARAMS,
            "instant_stock": 4,  # pre-drawn battles (instant.py); video outputs are larger
        },
    )
    for name, org, style in DEMO_VIDEO_CONTENDERS:
        contender, _ = Contender.objects.get_or_create(
            name=name,
            defaults={
                "organization": org,
                "provider": provider,
                "model_id": f"demo-video-{style}",
                "parameters": {"style": style},
                "license": "demo material",
            },
        )
        contender.arenas.add(arena)
    prompt_bank_load(modality=Modality.VIDEO)  # the shipped video prompts
    return arena
