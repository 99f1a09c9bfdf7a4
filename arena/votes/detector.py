"""The flagged-voter detector: votes from voters who always pick one side, or whose choices are
improbable under the current ratings, are kept but stop counting."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction

from arena.battles.models import Arena
from arena.votes.models import Choice, EloRating, FlaggedVoter, InvalidReason, Vote
from ratings.integrity import improbable_choices_p_value, side_bias_p_value
from ratings.live import elo_expected
from ratings.voters import improbable_choices_p_value_from_sums

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
    recomputes the standings without their votes).

    On PostgreSQL one aggregate query returns each assessed voter's counters (decisive votes,
    left picks, and the three sums of the improbable-choices statistic under the current
    ratings), so the review costs O(voters), not a query or a Python object per vote.
    """
    ratings = dict(EloRating.objects.filter(arena=arena).values_list("contender_id", "rating"))
    if connection.vendor == "postgresql":
        verdicts = _assess_in_sql(arena=arena, since=since, ratings=ratings)
    else:
        verdicts = _assess_one_by_one(arena=arena, since=since, ratings=ratings)
    flagged = []
    for voter_id in sorted(verdicts):
        reason, details = verdicts[voter_id]
        voter_flag(voter_id=voter_id, reason=reason, details=details)
        flagged.append(voter_id)
    return flagged


def _assess_one_by_one(*, arena: Arena, since: datetime | None,
                       ratings: dict[int, float]) -> dict[str, tuple[str, dict[str, object]]]:
    recent = Vote.objects.filter(battle__arena=arena, is_valid=True)
    if since is not None:
        recent = recent.filter(created_at__gte=since)
    voter_ids = set(recent.values_list("voter_id", flat=True))
    voter_ids -= set(FlaggedVoter.objects.filter(voter_id__in=voter_ids)
                     .values_list("voter_id", flat=True))
    verdicts = {}
    for voter_id in voter_ids:
        verdict = voter_assess(voter_id=voter_id, arena=arena, ratings=ratings)
        if verdict is not None:
            verdicts[voter_id] = verdict
    return verdicts


_COUNTERS_SQL = """
WITH elo AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(ratings)s::float8[]) AS e(contender_id, rating)
), active AS (
    SELECT DISTINCT v.voter_id FROM {vote} v JOIN {battle} b ON b.id = v.battle_id
    WHERE b.arena_id = %(arena)s AND v.is_valid AND v.created_at >= %(since)s
), chosen AS (
    SELECT v.voter_id, v.choice = 'left' AS is_left,
           greatest(1e-6::float8, least(1 - 1e-6::float8,
               CASE WHEN v.choice = 'left' THEN q.p ELSE 1 - q.p END)) AS pc
    FROM active a
    JOIN {vote} v ON v.voter_id = a.voter_id
    JOIN {battle} b ON b.id = v.battle_id
    LEFT JOIN elo el ON el.contender_id = b.left_id
    LEFT JOIN elo er ON er.contender_id = b.right_id
    CROSS JOIN LATERAL (SELECT 1.0::float8 / (1.0::float8 + power(10.0::float8,
        (coalesce(er.rating, 1000.0) - coalesce(el.rating, 1000.0)) / 400.0::float8)) AS p) q
    WHERE b.arena_id = %(arena)s AND v.is_valid AND v.choice IN ('left', 'right')
      AND NOT EXISTS (SELECT 1 FROM {flagged} f WHERE f.voter_id = v.voter_id)
)
SELECT voter_id, count(*), count(*) FILTER (WHERE is_left), sum(ln(pc)),
       sum(pc * ln(pc) + (1 - pc) * ln(1 - pc)),
       sum(pc * (1 - pc) * power(ln(pc) - ln(1 - pc), 2))
FROM chosen GROUP BY voter_id HAVING count(*) >= %(min)s
"""


def _assess_in_sql(*, arena: Arena, since: datetime | None,
                   ratings: dict[int, float]) -> dict[str, tuple[str, dict[str, object]]]:
    """The same two tests as `voter_assess`, from per-voter counters summed by PostgreSQL:
    `improbable_choices_p_value` needs only the sums of log p, of its mean and of its
    variance terms over the voter's decisive votes."""
    from datetime import datetime as dt

    from arena.battles.models import Battle

    sql = _COUNTERS_SQL.format(vote=Vote._meta.db_table, battle=Battle._meta.db_table,
                               flagged=FlaggedVoter._meta.db_table)
    params = {"ids": list(ratings), "ratings": list(ratings.values()), "arena": arena.pk,
              "since": since or dt(1970, 1, 1, tzinfo=UTC),
              "min": settings.ARENA_FLAG_MIN_VOTES}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    threshold = settings.ARENA_FLAG_P_VALUE
    side_p_of: dict[tuple[int, int], float] = {}
    verdicts: dict[str, tuple[str, dict[str, object]]] = {}
    for voter_id, n, left, observed, mean, variance in rows:
        key = (int(left), int(n))
        if key not in side_p_of:
            side_p_of[key] = side_bias_p_value(*key)
        side_p = side_p_of[key]
        if side_p < threshold:
            verdicts[voter_id] = ("always picks the same side",
                                  {"decisive_votes": n, "left": left, "p_value": side_p})
            continue
        choice_p = improbable_choices_p_value_from_sums(observed, mean, variance)
        if choice_p < threshold:
            verdicts[voter_id] = ("choices improbable under the current ratings",
                                  {"decisive_votes": n, "p_value": choice_p})
    return verdicts


@transaction.atomic
def voter_flag(*, voter_id: str, reason: str, details: dict[str, object]) -> None:
    """Flag a voter: their votes stay stored, marked as not counted, with the reason."""
    FlaggedVoter.objects.get_or_create(voter_id=voter_id,
                                       defaults={"reason": reason, "details": details})
    Vote.objects.filter(voter_id=voter_id, is_valid=True).update(
        is_valid=False, invalid_reason=InvalidReason.FLAGGED_VOTER)
    logger.info("flagged voter %s: %s %s", voter_id, reason, details)
