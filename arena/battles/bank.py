"""The prompt bank shipped with the code: hand-written prompts per modality under prompt_bank/,
loaded into the database once (idempotent) and drawn by the "Random prompt" button."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from arena.battles.models import Modality, Prompt, prompt_hash

BANK_DIR = Path(__file__).with_name("prompt_bank")


@dataclass(frozen=True)
class BankPrompt:
    text: str
    category: str


@cache
def bank_read(modality: str) -> tuple[BankPrompt, ...]:
    """The shipped prompts of one modality: `[category]` starts a section, `#` a comment."""
    path = BANK_DIR / f"{modality}.txt"
    if not path.exists():
        return ()
    prompts, category = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip()
            continue
        prompts.append(BankPrompt(text=line, category=category))
    return tuple(prompts)


def prompt_bank_load(*, modality: str | None = None) -> int:
    """Add the shipped bank prompts the database lacks (compared by normalised text); returns
    how many were added. Safe to run at every start."""
    added = 0
    for mod in [modality] if modality else list(Modality.values):
        shipped = bank_read(mod)
        have = set(
            Prompt.objects.filter(source=Prompt.Source.BANK, modality=mod).values_list(
                "text_hash", flat=True
            )
        )
        new: dict[str, Prompt] = {}
        for item in shipped:
            digest = prompt_hash(item.text)
            if digest not in have and digest not in new:
                new[digest] = Prompt(
                    text=item.text,
                    text_hash=digest,
                    category=item.category,
                    source=Prompt.Source.BANK,
                    modality=mod,
                    language="en",
                )
        Prompt.objects.bulk_create(new.values(), batch_size=500)
        added += len(new)
    return added
