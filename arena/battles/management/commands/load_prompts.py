from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from arena.battles.bank import prompt_bank_load


class Command(BaseCommand):
    help = "Add the shipped prompt bank (arena/battles/prompt_bank/) to the database (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        added = prompt_bank_load()
        self.stdout.write(f"Prompt bank: {added} new prompt{'s' if added != 1 else ''} added.")
