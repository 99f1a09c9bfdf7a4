"""The demo text-to-video arena: CPU demo contenders (short clips, no key, no GPU), the
parameters voters may choose, and its own prompt bank (arena/demo/prompts_video.txt)."""

from __future__ import annotations

from pathlib import Path

from arena.battles.models import Arena, Contender, Modality, Prompt, Provider, prompt_hash

VIDEO_PROMPTS = Path(__file__).resolve().parents[1] / "demo" / "prompts_video.txt"

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


def video_prompts_read(path: Path = VIDEO_PROMPTS) -> list[tuple[str, str]]:
    """(text, category) per prompt line of the bank file."""
    prompts, category = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip()
        else:
            prompts.append((line, category))
    return prompts


def demo_video_load(*, provider: Provider) -> Arena:
    """Create the demo video arena, its demo contenders (on the demo `provider`) and its
    prompt bank; idempotent. The caller holds the transaction."""
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
        },
    )
    for name, org, style in DEMO_VIDEO_CONTENDERS:
        contender, _ = Contender.objects.get_or_create(
            name=name,
            defaults={"organization": org, "provider": provider,
                      "model_id": f"demo-video-{style}", "parameters": {"style": style},
                      "license": "demo material"},
        )
        contender.arenas.add(arena)
    have = set(Prompt.objects.filter(source=Prompt.Source.BANK, modality=Modality.VIDEO)
               .values_list("text_hash", flat=True))
    for text, category in video_prompts_read():
        if prompt_hash(text) not in have:
            Prompt.objects.create(text=text, category=category, source=Prompt.Source.BANK,
                                  modality=Modality.VIDEO, language="en")
    return arena
