"""The flagged-voter detector: votes from voters who always pick one side, or whose choices are
improbable under the current ratings, are kept but stop counting."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction

from arena.battles.models import Arena
from arena.votes.models import Choice, EloRating, FlaggedVoter, InvalidReason, Vote
from ratings.integrity import improbable_choices_p_value, side_bias_p_value
from ratings.live import elo_expected

logger = logging.getLogger(__name__)


def voter_assess(*, voter_id: str, arena: Arena,
                 ratings: dict[int, float]) -> tuple[str, dict[str, object]] | None:
    """Return (reason, details) when the voter's decisive votes fail a test, else None."""
    decisive = list(
        Vote.objects.filter(voter_id=voter_id, battle__arena=arena, is_valid=True,
                            choice__in=[Choice.LEFT, Choice.RIGHT])
        .values_list("choice", "battle__left_id", "battle__right_id")
    )
    if len(decisive) < settings.ARENA_FLAG_MIN_VOTES:
        return None
    threshold = settings.ARENA_FLAG_P_VALUE
    left = sum(1 for choice, _, _ in decisive if choice == Choice.LEFT)
    side_p = side_bias_p_value(left, len(decisive))
    if side_p < threshold:
        return ("always picks the same side",
                {"decisive_votes": len(decisive), "left": left, "p_value": side_p})
    p_chosen = []
    for choice, left_id, right_id in decisive:
        p_left = elo_expected(ratings.get(left_id, 1000.0), ratings.get(right_id, 1000.0))
        p_chosen.append(p_left if choice == Choice.LEFT else 1.0 - p_left)
    choice_p = improbable_choices_p_value(p_chosen)
    if choice_p < threshold:
        return ("choices improbable under the current ratings",
                {"decisive_votes": len(decisive), "p_value": choice_p})
    return None


def voters_review(*, arena: Arena, since: datetime | None) -> list[str]:
    """Assess voters who voted since `since` and flag the suspicious ones (the caller then
    recomputes the standings without their votes)."""
    recent = Vote.objects.filter(battle__arena=arena, is_valid=True)
    if since is not None:
        recent = recent.filter(created_at__gte=since)
    voter_ids = set(recent.values_list("voter_id", flat=True))
    voter_ids -= set(FlaggedVoter.objects.filter(voter_id__in=voter_ids)
                     .values_list("voter_id", flat=True))
    ratings = dict(EloRating.objects.filter(arena=arena).values_list("contender_id", "rating"))
    flagged = []
    for voter_id in sorted(voter_ids):
        verdict = voter_assess(voter_id=voter_id, arena=arena, ratings=ratings)
        if verdict is None:
            continue
        reason, details = verdict
        voter_flag(voter_id=voter_id, reason=reason, details=details)
        flagged.append(voter_id)
    return flagged


@transaction.atomic
def voter_flag(*, voter_id: str, reason: str, details: dict[str, object]) -> None:
    """Flag a voter: their votes stay stored, marked as not counted, with the reason."""
    FlaggedVoter.objects.get_or_create(voter_id=voter_id,
                                       defaults={"reason": reason, "details": details})
    Vote.objects.filter(voter_id=voter_id, is_valid=True).update(
        is_valid=False, invalid_reason=InvalidReason.FLAGGED_VOTER)
    logger.info("flagged voter %s: %s %s", voter_id, reason, details)
