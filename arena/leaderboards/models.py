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


class PairCell(models.Model):
    """Counted votes per (arena, prompt category, left, right, choice, sampling probability).

    On PostgreSQL, database triggers keep these counts as votes arrive, stop counting or go
    (:mod:`arena.leaderboards.maintained`), so a refresh reads O(pairs) rows, never the votes.
    ``probability`` is -1 when the battle recorded none.
    """

    # No database constraint: checking one would lock the arena row (FOR KEY SHARE) inside
    # every vote's transaction; arenas with votes cannot be deleted anyway (PROTECT).
    arena = models.ForeignKey(
        Arena, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    category = models.CharField(max_length=60, blank=True)
    left_id = models.BigIntegerField()
    right_id = models.BigIntegerField()
    choice = models.CharField(max_length=10)
    probability = models.FloatField(default=-1.0)
    votes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["arena", "category", "left_id", "right_id", "choice", "probability"],
                name="paircell_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.left_id}-{self.right_id} {self.choice} [{self.category}]: {self.votes}"


class StyleCell(models.Model):
    """Counted votes per (arena, left, right, choice, sampling probability, style covariate
    bins), with the sum of each covariate difference and bounds on its values (equal bounds:
    every vote of the cell has that value). Kept by the same triggers as :class:`PairCell`."""

    # No database constraint: checking one would lock the arena row (FOR KEY SHARE) inside
    # every vote's transaction; arenas with votes cannot be deleted anyway (PROTECT).
    arena = models.ForeignKey(
        Arena, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    left_id = models.BigIntegerField()
    right_id = models.BigIntegerField()
    choice = models.CharField(max_length=10)
    probability = models.FloatField(default=-1.0)
    bin_latency = models.IntegerField()
    bin_pixels = models.IntegerField()
    bin_aspect = models.IntegerField()
    votes = models.BigIntegerField(default=0)
    sum_latency = models.FloatField(default=0.0)
    sum_pixels = models.FloatField(default=0.0)
    sum_aspect = models.FloatField(default=0.0)
    min_latency = models.FloatField(default=0.0)
    max_latency = models.FloatField(default=0.0)
    min_pixels = models.FloatField(default=0.0)
    max_pixels = models.FloatField(default=0.0)
    min_aspect = models.FloatField(default=0.0)
    max_aspect = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "arena",
                    "left_id",
                    "right_id",
                    "choice",
                    "probability",
                    "bin_latency",
                    "bin_pixels",
                    "bin_aspect",
                ],
                name="stylecell_key",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.left_id}-{self.right_id} {self.choice} bins ({self.bin_latency}, "
            f"{self.bin_pixels}, {self.bin_aspect}): {self.votes}"
        )


class CellBins(models.Model):
    """The style bins the maintained :class:`StyleCell` rows were counted with (one row, id 1;
    the triggers read it). A refresh whose settings differ recounts the style cells."""

    latency_edges = models.JSONField(default=list)
    size_step = models.FloatField(default=0.01)

    def __str__(self) -> str:
        return f"latency edges {self.latency_edges}, size step {self.size_step}"


class EloCheckpoint(models.Model):
    """The online Elo of every board of an arena after its first ``votes`` counted votes (in
    vote order), and a digest of those votes: the next refresh replays only the votes after
    them when the digest still matches (else it replays them all)."""

    arena = models.OneToOneField(Arena, on_delete=models.CASCADE, related_name="+")
    votes = models.BigIntegerField(default=0)
    digest = models.CharField(max_length=32)
    both_bad_counts = models.BooleanField(default=True)
    categories = models.JSONField(default=list)
    model_names = models.JSONField(default=list, help_text="The columns of ratings.")
    contender_ids = models.JSONField(
        default=list, help_text="The contender of each column (what a checkpoint is keyed by)."
    )
    ratings = models.JSONField(default=list, help_text="Per board (all prompts first).")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Elo of arena {self.arena_id} after {self.votes} votes"
