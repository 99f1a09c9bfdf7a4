"""The demo image-editing arena: the CPU demo contenders (generators/demo_edit.py, real image
operations driven by the instruction) and the shipped instruction bank
(prompt_bank/image_edit.txt)."""

from __future__ import annotations

from arena.battles.bank import prompt_bank_load
from arena.battles.models import Arena, Contender, Modality

EDIT_ARENA_SLUG = "image-editing"


def demo_edit_load(*, contenders: list[Contender]) -> Arena:
    """Create the demo editing arena and enter the demo image `contenders` (each style edits
    with its own quality); idempotent. The caller holds the transaction."""
    arena, _ = Arena.objects.get_or_create(
        slug=EDIT_ARENA_SLUG,
        defaults={
            "title": "Image Editing",
            "description": "Upload an image and describe the change: two anonymous models "
            "edit it. Pick the better edit.",
            "modality": Modality.IMAGE_EDIT,
        },
    )
    for contender in contenders:
        contender.arenas.add(arena)
    prompt_bank_load(modality=Modality.IMAGE_EDIT)
    return arena
