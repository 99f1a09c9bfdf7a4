"""Casting a vote: one transaction, one vote per battle, Elo updated in the same commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from arena.battles.errors import Conflict, Forbidden, InvalidInput, NotFound
from arena.battles.models import Arena, Battle, BattleStatus, Contender
from arena.battles.ratelimit import rate_limit_hit
from arena.votes.models import Choice, EloRating, FlaggedVoter, InvalidReason, Vote
from ratings.live import elo_update


def leaderboard_refresh_request(*, arena_id: int) -> None:
    from arena.leaderboards.services import leaderboard_refresh_request as request

    request(arena_id=arena_id)

ELO_K = 4.0
SCORE_LEFT = {Choice.LEFT: 1.0, Choice.RIGHT: 0.0, Choice.TIE: 0.5, Choice.BOTH_BAD: 0.5}


@dataclass(frozen=True)
class CastVote:
    vote: Vote
    replayed: bool  # the same Idempotency-Key again: the first answer, nothing stored twice


def choice_parse(choice: object) -> Choice:
    if choice not in Choice.values:
        raise InvalidInput("choice must be one of: left, right, tie, both_bad.")
    return Choice(choice)


def elo_step(row_left: EloRating, row_right: EloRating, choice: Choice) -> None:
    """Apply one counted vote to both standings (ratings and win/tie/loss counts)."""
    score = SCORE_LEFT[choice]
    row_left.rating, row_right.rating = elo_update(
        row_left.rating, row_right.rating, score, k=ELO_K
    )
    for row, own_score in ((row_left, score), (row_right, 1.0 - score)):
        row.votes += 1
        if own_score == 1.0:
            row.wins += 1
        elif own_score == 0.0:
            row.losses += 1
        else:
            row.ties += 1


def elo_apply(*, arena: Arena, left: Contender, right: Contender, choice: Choice) -> None:
    """Update both live Elo rows; rows are locked in id order so concurrent votes never
    deadlock."""
    if choice == Choice.BOTH_BAD and not arena.both_bad_counts_as_tie:
        return
    for contender in (left, right):
        EloRating.objects.get_or_create(arena=arena, contender=contender)
    rows = {
        row.contender_id: row
        for row in EloRating.objects.select_for_update()
        .filter(arena=arena, contender__in=[left, right])
        .order_by("pk")
    }
    elo_step(rows[left.pk], rows[right.pk], choice)
    rows[left.pk].save()
    rows[right.pk].save()


def _names_of(battle: Battle) -> list[str]:
    names = []
    for contender in (battle.left, battle.right):
        names += [contender.name, contender.organization, contender.provider.name,
                  contender.model_id]
    return [n.casefold() for n in names if n and len(n) >= 3]


def vote_invalid_reason(*, battle: Battle, voter_id: str, seconds_to_vote: float | None) -> str:
    """Why this vote must not count ("" when it counts). Checked inside the vote's transaction."""
    names = _names_of(battle)
    for output in battle.outputs.all():
        text = output.text.casefold()
        if text and any(name in text for name in names):
            return InvalidReason.IDENTITY_LEAKED
    if FlaggedVoter.objects.filter(voter_id=voter_id).exists():
        return InvalidReason.FLAGGED_VOTER
    if seconds_to_vote is not None and seconds_to_vote < settings.ARENA_MIN_VOTE_SECONDS:
        return InvalidReason.TOO_FAST
    counted = Vote.objects.filter(voter_id=voter_id, is_valid=True)
    if counted.filter(battle__arena_id=battle.arena_id,
                      battle__prompt__text_hash=battle.prompt.text_hash).exists():
        return InvalidReason.REPEATED_PROMPT
    since = timezone.now() - timedelta(days=1)
    if counted.filter(created_at__gte=since).count() >= settings.ARENA_VOTER_DAILY_CAP:
        return InvalidReason.DAILY_CAP
    return ""


def vote_cast(
    *, battle_id: object, voter_id: str, choice: object, idempotency_key: str = "",
    voter_address: str = "",
) -> CastVote:
    """Store the vote and update ratings in one transaction; names are revealed only after.

    Every vote on a ready battle is stored; one that breaks a quality rule is kept with its
    reason and does not move the ratings.
    """
    parsed = choice_parse(choice)
    if len(idempotency_key) > 100:
        raise InvalidInput("Idempotency-Key must be at most 100 characters.")
    window = settings.ARENA_RATE_WINDOW_S
    rate_limit_hit(scope="vote-voter", key=voter_id, limit=settings.ARENA_RATE_VOTES_PER_VOTER,
                   window_s=window, what="votes")
    rate_limit_hit(scope="vote-address", key=voter_address,
                   limit=settings.ARENA_RATE_VOTES_PER_ADDRESS, window_s=window,
                   what="votes from your network")
    try:
        with transaction.atomic():
            battle = (
                Battle.objects.select_for_update()
                .select_related("arena", "prompt", "left__provider", "right__provider")
                .filter(pk=battle_id)
                .first()
            )
            if battle is None:
                raise NotFound("There is no such battle.")
            if battle.voter_id != voter_id:
                raise Forbidden("You can only vote on a battle you were shown.")
            existing = Vote.objects.filter(battle=battle).first()
            if existing is not None:
                if idempotency_key and existing.idempotency_key == idempotency_key:
                    return CastVote(existing, replayed=True)
                raise Conflict("You have already voted on this battle.")
            if battle.status == BattleStatus.FAILED:
                raise Conflict("This battle failed, so it cannot be voted on. Start a new one.")
            if battle.status != BattleStatus.READY:
                raise Conflict("Please wait until both outputs are shown before voting.")
            now = timezone.now()
            seconds = (now - battle.ready_at).total_seconds() if battle.ready_at else None
            reason = vote_invalid_reason(battle=battle, voter_id=voter_id,
                                         seconds_to_vote=seconds)
            vote = Vote.objects.create(
                battle=battle,
                choice=parsed,
                voter_id=voter_id,
                voter_address=voter_address,
                idempotency_key=idempotency_key,
                seconds_to_vote=seconds,
                is_valid=not reason,
                invalid_reason=reason,
            )
            battle.status = BattleStatus.VOTED
            battle.finished_at = now
            battle.save(update_fields=["status", "finished_at"])
            if vote.is_valid:
                elo_apply(arena=battle.arena, left=battle.left, right=battle.right,
                          choice=parsed)
            arena_id = battle.arena_id
            transaction.on_commit(lambda: leaderboard_refresh_request(arena_id=arena_id))
    except IntegrityError:
        # Another request stored this battle's vote between our check and insert.
        raise Conflict("You have already voted on this battle.") from None
    return CastVote(vote, replayed=False)
