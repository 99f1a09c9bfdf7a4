from __future__ import annotations

from django.contrib import admin

from arena.votes.models import EloRating, Vote


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["battle", "choice", "voter_id", "is_valid", "seconds_to_vote", "created_at"]
    list_filter = ["choice", "is_valid"]
    readonly_fields = [
        "battle",
        "choice",
        "voter_id",
        "idempotency_key",
        "seconds_to_vote",
        "created_at",
    ]


@admin.register(EloRating)
class EloRatingAdmin(admin.ModelAdmin):
    list_display = ["contender", "arena", "rating", "votes", "wins", "losses", "ties"]
    list_filter = ["arena"]
