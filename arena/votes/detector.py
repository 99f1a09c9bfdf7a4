"""The flagged-voter detector: votes from voters who always pick one side, or whose choices are
improbable under the current ratings, are kept but stop counting."""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from arena.battles.models import Arena
from arena.votes.models import Choice, EloRating, FlaggedVoter, InvalidReason, Vote
from arena.votes.stream import VoteColumns, counted_vote_columns, voter_hash
from ratings.elo import elo_expected
from ratings.integrity import improbable_choices_p_value, side_bias_p_value
from ratings.voters import (
    improbable_choices_p_value_from_sums,
    side_bias_p_values,
    voter_counters,
)

logger = logging.getLogger(__name__)


def voter_assess(
    *, voter_id: str, arena: Arena, ratings: dict[int, float]
) -> tuple[str, dict[str, object]] | None:
    """Return (reason, details) when the voter's decisive votes fail a test, else None."""
    decisive = list(
        Vote.objects.filter(
            voter_id=voter_id,
            battle__arena=arena,
            is_valid=True,
            choice__in=[Choice.LEFT, Choice.RIGHT],
        ).values_list("choice", "battle__left_id", "battle__right_id")
    )
    if len(decisive) < settings.ARENA_FLAG_MIN_VOTES:
        return None
    threshold = settings.ARENA_FLAG_P_VALUE
    left = sum(1 for choice, _, _ in decisive if choice == Choice.LEFT)
    side_p = side_bias_p_value(left, len(decisive))
    if side_p < threshold:
        return (
            "always picks the same side",
            {"decisive_votes": len(decisive), "left": left, "p_value": side_p},
        )
    p_chosen = []
    for choice, left_id, right_id in decisive:
        p_left = elo_expected(ratings.get(left_id, 1000.0), ratings.get(right_id, 1000.0))
        p_chosen.append(p_left if choice == Choice.LEFT else 1.0 - p_left)
    choice_p = improbable_choices_p_value(p_chosen)
    if choice_p < threshold:
        return (
            "choices improbable under the current ratings",
            {"decisive_votes": len(decisive), "p_value": choice_p},
        )
    return None


def voters_review(
    *, arena: Arena, since: datetime | None, columns: VoteColumns | None = None
) -> list[str]:
    """Assess voters who voted since `since` and flag the suspicious ones (the caller then
    recomputes the standings without their votes).

    On PostgreSQL the counted votes arrive as numpy columns (the refresh passes the ones it
    fetched for the online Elo) and every voter's counters are summed at once, so the review
    costs no query and no Python object per vote or per voter assessed.
    """
    ratings = dict(EloRating.objects.filter(arena=arena).values_list("contender_id", "rating"))
    if connection.vendor == "postgresql":
        if columns is None:
            columns = counted_vote_columns(arena=arena)
        verdicts = _assess_columns(columns=columns, since=since, ratings=ratings)
        names = _voter_ids(columns=columns, hashes=list(verdicts))
        named = {names[h]: verdict for h, verdict in verdicts.items() if h in names}
    else:
        named = _assess_one_by_one(arena=arena, since=since, ratings=ratings)
    return voters_flag(named)


def _assess_one_by_one(
    *, arena: Arena, since: datetime | None, ratings: dict[int, float]
) -> dict[str, tuple[str, dict[str, object]]]:
    recent = Vote.objects.filter(battle__arena=arena, is_valid=True)
    if since is not None:
        recent = recent.filter(created_at__gte=since)
    voter_ids = set(recent.values_list("voter_id", flat=True))
    voter_ids -= set(
        FlaggedVoter.objects.filter(voter_id__in=voter_ids).values_list("voter_id", flat=True)
    )
    verdicts = {}
    for voter_id in voter_ids:
        verdict = voter_assess(voter_id=voter_id, arena=arena, ratings=ratings)
        if verdict is not None:
            verdicts[voter_id] = verdict
    return verdicts


def _assess_columns(
    *, columns: VoteColumns, since: datetime | None, ratings: dict[int, float]
) -> dict[int, tuple[str, dict[str, object]]]:
    """The same two tests as `voter_assess`, for every voter active since `since`, from
    per-voter counters (`ratings.voters.voter_counters`); keyed by voter hash."""
    decisive = columns.outcome <= 1
    if not decisive.any():
        return {}
    table = np.full(int(max(columns.left.max(), columns.right.max())) + 1, 1000.0)
    for contender_id, rating in ratings.items():
        if contender_id < table.shape[0]:
            table[contender_id] = rating
    left, right = columns.left[decisive], columns.right[decisive]
    p_left = elo_expected(table[left], table[right])
    # Counters for every voter (one sort of the votes); then keep those active since `since`
    # (a few, looked up in the sorted codes: no membership test over every vote).
    codes, n, left_picks, observed, mean, variance = voter_counters(
        columns.voter[decisive], p_left, columns.outcome[decisive] == 0
    )
    if since is not None:
        recent = np.unique(columns.voter[columns.created >= VoteColumns.micros(since)])
        at = np.searchsorted(codes, recent)
        at = at[at < codes.shape[0]]
        active = np.zeros(codes.shape[0], dtype=bool)
        active[at[np.isin(codes[at], recent)]] = True
        n = np.where(active, n, 0)  # inactive voters fall below the minimum: not assessed
    threshold = settings.ARENA_FLAG_P_VALUE
    # For p = 1/2 the two-sided exact test is twice the smaller tail: one vectorised call
    # screens every voter; the exact test runs only for the few near or past the threshold.
    side_tail = side_bias_p_values(left_picks, n)
    side_p_of: dict[tuple[int, int], float] = {}
    verdicts: dict[int, tuple[str, dict[str, object]]] = {}
    for k in np.flatnonzero(n >= settings.ARENA_FLAG_MIN_VOTES):
        key = (int(left_picks[k]), int(n[k]))
        if side_tail[k] > 10 * threshold:
            side_p = float(side_tail[k])  # far from flagging: the screen's value will do
        else:
            if key not in side_p_of:
                side_p_of[key] = side_bias_p_value(*key)
            side_p = side_p_of[key]
        if side_p < threshold:
            verdicts[int(codes[k])] = (
                "always picks the same side",
                {"decisive_votes": key[1], "left": key[0], "p_value": side_p},
            )
            continue
        choice_p = improbable_choices_p_value_from_sums(observed[k], mean[k], variance[k])
        if choice_p < threshold:
            verdicts[int(codes[k])] = (
                "choices improbable under the current ratings",
                {"decisive_votes": key[1], "p_value": choice_p},
            )
    return verdicts


def _voter_ids(*, columns: VoteColumns, hashes: list[int]) -> dict[int, str]:
    """Voter ids of the given hashes: each read from one of that voter's votes, found in the
    columns (one query by primary key, only when someone is to be flagged; matching the
    hashes in the votes table instead read every vote: seconds at 10M votes)."""
    if not hashes:
        return {}
    theirs = np.flatnonzero(np.isin(columns.voter, hashes))  # their votes: a few, one pass
    _, first = np.unique(columns.voter[theirs], return_index=True)
    vote_ids = [int(v) for v in columns.vote[theirs[first]]]
    rows = Vote.objects.filter(pk__in=vote_ids).annotate(h=voter_hash())
    return {int(h): voter_id for h, voter_id in rows.values_list("h", "voter_id")}


def voters_flag(verdicts: dict[str, tuple[str, dict[str, object]]]) -> list[str]:
    """Flag voters (id -> reason, details): their votes stay stored, marked as not counted,
    with the reason. One UPDATE for all of them: the vote cells' trigger runs once (per
    voter it cost ~60 ms at 1M votes). A voter flagged before keeps their first reason."""
    voter_ids = sorted(verdicts)
    if not voter_ids:
        return []  # no transaction (not even a savepoint) for a refresh that flags nobody
    with transaction.atomic():
        FlaggedVoter.objects.bulk_create(
            [
                FlaggedVoter(voter_id=v, reason=verdicts[v][0], details=verdicts[v][1])
                for v in voter_ids
            ],
            ignore_conflicts=True,
        )
        Vote.objects.filter(voter_id__in=voter_ids, is_valid=True).update(
            is_valid=False, invalid_reason=InvalidReason.FLAGGED_VOTER
        )
    for voter_id in voter_ids:
        logger.info("flagged voter %s: %s %s", voter_id, *verdicts[voter_id])
    return voter_ids
