from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from arena.battles.demo_data import database_is_fresh, demo_counts, demo_load
from arena.battles.demo_edit_data import EDIT_ARENA_SLUG
from arena.battles.models import Arena


class Command(BaseCommand):
    help = (
        "Load the demo arena, its CPU-only demo contenders and the image prompt bank "
        "(idempotent). With --if-fresh (what `make run` uses): only on a database where "
        "nothing is registered yet, and never when ARENA_DEMO=0."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-fresh",
            action="store_true",
            help="Skip unless the database is fresh and ARENA_DEMO is on.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_fresh"]:
            if not settings.ARENA_DEMO:
                self.stdout.write("ARENA_DEMO=0: starting without the demo arena.")
                return
            if not database_is_fresh():
                self.stdout.write(
                    "Demo data not loaded: this database already has arenas or "
                    "models (run `manage.py load_demo` to add the demo anyway)."
                )
                return
        arena = demo_load()
        if not settings.ARENA_EMBEDDED_TASKS:  # workers make the instant battles' stock now
            from arena.battles.instant import stock_fill_soon

            for slug in ("text-to-image", "text-to-video"):
                warm = Arena.objects.filter(slug=slug, instant_stock__gt=0).first()
                if warm is not None:
                    stock_fill_soon(arena_id=warm.pk)
        demo, others = demo_counts(arena)
        also = f", plus {others} other contender{'s' if others != 1 else ''}" if others else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo arena '{arena.slug}' ready with {demo} demo contender"
                f"{'s' if demo != 1 else ''}{also}."
            )
        )
        for slug, kind in (("text-to-video", "video "), (EDIT_ARENA_SLUG, "image-editing ")):
            extra = Arena.objects.filter(slug=slug).first()
            if extra is not None:
                count = demo_counts(extra)[0]
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Demo arena '{extra.slug}' ready with {count} demo {kind}contender"
                        f"{'s' if count != 1 else ''}."
                    )
                )
