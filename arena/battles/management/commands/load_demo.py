from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from arena.battles.demo_data import demo_load


class Command(BaseCommand):
    help = "Load the demo arena, its CPU-only demo contenders and the prompt bank (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        arena = demo_load()
        self.stdout.write(self.style.SUCCESS(
            f"Demo arena '{arena.slug}' ready with {arena.contenders.count()} demo contenders."
        ))
