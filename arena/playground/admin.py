from __future__ import annotations

from django.contrib import admin

from arena.battles.admin import result_fields_after
from arena.playground.models import Generation


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    """Playground runs, read-only: what was asked, what the provider used and what it cost."""

    list_display = ["id", "arena", "contender", "status", "latency_s", "cost", "created_at"]
    list_filter = ["status", "arena", "contender"]
    readonly_fields = result_fields_after(Generation, "failure_reason")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
