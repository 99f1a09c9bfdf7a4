"""Leaderboard snapshots: what every leaderboard page and API call reads."""

from __future__ import annotations

from django.db import models

from arena.battles.models import Arena


class LeaderboardSnapshot(models.Model):
    """One recompute of an arena's ratings (overall or one prompt category)."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="snapshots")
    category = models.CharField(max_length=60, blank=True, help_text="Empty: all prompts.")
    method = models.CharField(max_length=16, default="bt")
    computed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    votes = models.PositiveIntegerField(default=0)
    rows = models.JSONField(default=list)
    matrices = models.JSONField(default=dict, blank=True)
    excluded = models.JSONField(default=dict, blank=True)
    position_bias = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    seconds = models.FloatField(default=0.0, help_text="Time the recompute took.")

    class Meta:
        ordering = ["-computed_at"]
        indexes = [models.Index(fields=["arena", "category", "-computed_at"])]

    def __str__(self) -> str:
        return f"{self.arena.slug}/{self.category or 'all'} at {self.computed_at:%Y-%m-%d %H:%M}"


class ChangeKind(models.TextChoices):
    MODEL_ADDED = "model_added", "Model added"
    MODEL_RANKED = "model_ranked", "Model ranked"
    MODEL_RETIRED = "model_retired", "Model retired"
    VOTES_EXCLUDED = "votes_excluded", "Votes excluded"
    METHOD = "method", "Method changed"


class LeaderboardChange(models.Model):
    """One thing that moved an arena's board, written by the refresh that first saw it: what
    the leaderboard page's changelog lists."""

    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="board_changes")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=20, choices=ChangeKind.choices)
    text = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["arena", "-at"])]

    def __str__(self) -> str:
        return f"{self.arena.slug} {self.at:%Y-%m-%d %H:%M}: {self.text}"
