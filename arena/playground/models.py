"""A playground generation: one model run on one prompt with the voter's parameters.

It is not a battle (one side, no vote, never counted) but its output is made by the battles'
pipeline (same generator call, same normalisation to the chosen form, same private serving by
an opaque token), so its result columns are battles.Output's: both inherit
battles.OutputResult."""

from __future__ import annotations

import uuid

from django.db import models

from arena.battles.models import Arena, Contender, OutputResult, OutputStatus, SourceImage


class Generation(OutputResult):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    arena = models.ForeignKey(Arena, on_delete=models.PROTECT, related_name="generations")
    contender = models.ForeignKey(Contender, on_delete=models.PROTECT, related_name="generations")
    prompt = models.TextField()
    params = models.JSONField(
        default=dict, blank=True, help_text="The parameters chosen among the arena's offered."
    )
    source_image = models.ForeignKey(
        SourceImage,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="generations",
        editable=False,
        help_text="Image-editing arenas: the voter's upload the model edits.",
    )
    voter_id = models.CharField(max_length=64, db_index=True)
    voter_address = models.CharField(max_length=64, blank=True)
    seed = models.PositiveIntegerField()
    # The battles' status words (pending, generating, ready, failed).
    status = models.CharField(
        max_length=16, choices=OutputStatus.choices, default=OutputStatus.PENDING, db_index=True
    )
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Generation {self.id} by {self.contender_id}"
