"""Casting a vote: one transaction, one vote per battle, Elo updated in the same commit."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from arena.battles.errors import Conflict, Forbidden, InvalidInput, NotFound
from arena.battles.models import Arena, Battle, BattleStatus, Modality
from arena.battles.ratelimit import rate_limit_hit
from arena.votes.models import Choice, EloRating, FlaggedVoter, InvalidReason, Vote
from ratings.replay import elo_replay


def leaderboard_refresh_request(*, arena_id: int) -> None:
    from arena.leaderboards.services import leaderboard_refresh_request as request

    request(arena_id=arena_id)

ELO_K = 4.0
SCORE_LEFT = {Choice.LEFT: 1.0, Choice.RIGHT: 0.0, Choice.TIE: 0.5, Choice.BOTH_BAD: 0.5}


@dataclass(frozen=True)
class CastVote:
    vote: Vote
    battle: Battle  # with both contenders loaded, to reveal them
    replayed: bool  # the same Idempotency-Key again: the first answer, nothing stored twice


def choice_parse(choice: object) -> Choice:
    if choice not in Choice.values:
        raise InvalidInput("choice must be one of: left, right, tie, both_bad.")
    return Choice(choice)


@dataclass
class Standing:
    rating: float = 1000.0
    votes: int = 0
    wins: int = 0
    losses: int = 0
    ties: int = 0


_OUTCOME = {Choice.LEFT: 0, Choice.RIGHT: 1, Choice.TIE: 2, Choice.BOTH_BAD: 3}


def elo_standings(
    votes: Iterable[tuple[Hashable, Hashable, str]], *, both_bad_counts: bool = True
) -> dict[Hashable, Standing]:
    """Online Elo replayed over (left, right, choice) in vote order, with counts.

    Done by the leaderboard refresh rather than in each vote's transaction, so concurrent votes
    never wait on the same rows; the live number follows within the refresh debounce. The loop
    itself is :func:`ratings.replay.elo_replay` (the refresh feeds it numpy columns).
    """
    keys: dict[Hashable, int] = {}
    a, b, out = [], [], []
    for left, right, choice in votes:
        a.append(keys.setdefault(left, len(keys)))
        b.append(keys.setdefault(right, len(keys)))
        out.append(_OUTCOME[Choice(choice)])
    table = elo_replay(a, b, out, num_models=len(keys), both_bad_counts=both_bad_counts)
    return {key: Standing(float(table.ratings[0, k]), int(table.votes[0, k]),
                          int(table.wins[0, k]), int(table.losses[0, k]), int(table.ties[0, k]))
            for key, k in keys.items() if table.votes[0, k]}


@transaction.atomic
def elo_store(*, arena: Arena, standings: dict[int, tuple[float, int, int, int, int]]) -> None:
    """Store the arena's live Elo: (rating, votes, wins, losses, ties) per contender id; the
    contenders without counted votes go back to the start (two statements in all)."""
    played = {pk: row for pk, row in standings.items() if row[1]}
    EloRating.objects.bulk_create(
        [EloRating(arena=arena, contender_id=pk, rating=rating, votes=votes, wins=wins,
                   losses=losses, ties=ties)
         for pk, (rating, votes, wins, losses, ties) in played.items()],
        update_conflicts=True, unique_fields=["arena", "contender"],
        update_fields=["rating", "votes", "wins", "losses", "ties", "updated_at"])
    EloRating.objects.filter(arena=arena).exclude(contender_id__in=list(played)).update(
        rating=1000.0, votes=0, wins=0, losses=0, ties=0)


def elo_rebuild(*, arena: Arena) -> dict[Hashable, Standing]:
    """Recompute and store the arena's live Elo from its counted votes, in order (the
    leaderboard refresh does the same from numpy columns)."""
    votes = (Vote.objects.filter(battle__arena=arena, is_valid=True).order_by("created_at", "pk")
             .values_list("battle__left_id", "battle__right_id", "choice"))
    standings = elo_standings(votes.iterator(chunk_size=5000),
                              both_bad_counts=arena.both_bad_counts_as_tie)
    elo_store(arena=arena, standings={
        int(pk): (s.rating, s.votes, s.wins, s.losses, s.ties)  # type: ignore[call-overload]
        for pk, s in standings.items()})
    return standings


def _names_of(battle: Battle) -> list[str]:
    names = []
    for contender in (battle.left, battle.right):
        names += [contender.name, contender.organization, contender.provider.name,
                  contender.model_id]
    return [n.casefold() for n in names if n and len(n) >= 3]


def vote_invalid_reason(*, battle: Battle, voter_id: str, seconds_to_vote: float | None) -> str:
    """Why this vote must not count ("" when it counts). Checked inside the vote's transaction."""
    if battle.arena.modality == Modality.TEXT:  # only text outputs can spell a name out
        names = _names_of(battle)
        for text in battle.outputs.values_list("text", flat=True):
            if text and any(name in text.casefold() for name in names):
                return InvalidReason.IDENTITY_LEAKED
    if FlaggedVoter.objects.filter(voter_id=voter_id).exists():
        return InvalidReason.FLAGGED_VOTER
    if seconds_to_vote is not None and seconds_to_vote < settings.ARENA_MIN_VOTE_SECONDS:
        return InvalidReason.TOO_FAST
    history = Vote.objects.filter(voter_id=voter_id, is_valid=True).aggregate(
        same_prompt=Count("pk", filter=Q(battle__arena_id=battle.arena_id,
                                         battle__prompt__text_hash=battle.prompt.text_hash)),
        today=Count("pk", filter=Q(created_at__gte=timezone.now() - timedelta(days=1))),
    )
    if history["same_prompt"]:
        return InvalidReason.REPEATED_PROMPT
    if history["today"] >= settings.ARENA_VOTER_DAILY_CAP:
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
    if not idempotency_key.isprintable():
        raise InvalidInput("Idempotency-Key must not contain control characters.")
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
                    return CastVote(existing, battle, replayed=True)
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
            arena_id = battle.arena_id
            transaction.on_commit(lambda: leaderboard_refresh_request(arena_id=arena_id))
    except IntegrityError:
        # Another request stored this battle's vote between our check and insert.
        raise Conflict("You have already voted on this battle.") from None
    return CastVote(vote, battle, replayed=False)
