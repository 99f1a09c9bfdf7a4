"""Provider health seen per contender: a run of failed outputs takes a contender out of the
sampler (voters stop meeting a model that cannot answer); a successful "Test generate" by an
operator puts it back."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from arena.battles.models import Contender

# Failures that say nothing about the provider: the prompt was refused, or the side was skipped
# because the other side failed first.
NOT_THE_PROVIDERS_FAULT = frozenset({"moderation", "cancelled"})


def contender_output_finished(
    *,
    contender_id: int | None,
    error_code: str = "",
    error: str = "",
    failure_streak: int | None = None,
) -> bool:
    """Count one finished output; returns True when this failure paused the contender.

    A success resets the streak (one UPDATE only when there was a streak). Called inside the
    transaction that stores the output. `failure_streak`: the streak as the caller read it in
    this transaction, if it did; a success then writes nothing when it was 0 (a failure
    committed since reads as ordered after this success)."""
    if contender_id is None:
        return False
    if not error_code:
        if failure_streak == 0:
            return False
        Contender.objects.filter(pk=contender_id, failure_streak__gt=0).update(failure_streak=0)
        return False
    if error_code in NOT_THE_PROVIDERS_FAULT:
        return False
    Contender.objects.filter(pk=contender_id).update(failure_streak=F("failure_streak") + 1)
    limit = settings.ARENA_PAUSE_AFTER_FAILURES
    streak = Contender.objects.values_list("failure_streak", flat=True).get(pk=contender_id)
    if not limit or streak < limit:
        return False
    reason = (
        f"Paused automatically: {streak} failed outputs in a row; the last one: "
        f"{error_code}: {error}"
    )[:300]
    return bool(
        Contender.objects.filter(pk=contender_id, paused_at__isnull=True).update(
            paused_at=timezone.now(), paused_reason=reason
        )
    )


def contender_resume(*, contender: Contender) -> None:
    """A working provider again (an operator's test generate succeeded): back in the sampler."""
    Contender.objects.filter(pk=contender.pk).update(
        paused_at=None, paused_reason="", failure_streak=0
    )
    contender.paused_at, contender.paused_reason, contender.failure_streak = None, "", 0
