"""Casting a vote: one short transaction, one vote per battle. The live Elo is not touched
here: the leaderboard refresh, requested on commit, replays it (see `elo_standings`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from arena.battles.errors import Conflict, InvalidInput, NotFound
from arena.battles.models import (
    Arena,
    Battle,
    BattleMode,
    BattleStatus,
    Modality,
)
from arena.battles.ratelimit import Limit, rate_limits_hit
from arena.votes.challenge import ProofOfWorkRequired, how_to_solve, pow_required
from arena.votes.models import (
    OUTCOME_OF_CHOICE,
    Choice,
    EloRating,
    InvalidReason,
    Vote,
)
from arena.votes.signals import vote_stored
from arena.votes.sql import VoterHistory, battle_lock, vote_store
from ratings.replay import elo_replay


@dataclass(frozen=True)
class CastVote:
    vote: Vote
    battle: Battle  # with both contenders loaded, to reveal them
    replayed: bool  # the same Idempotency-Key again: the first answer, nothing stored twice


def choice_parse(choice: object) -> Choice:
    if choice not in Choice.values:
        raise InvalidInput("choice must be one of: left, right, tie, both_bad.")
    return Choice(choice)


@dataclass(frozen=True)
class Standing:
    """One contender's live Elo and counts (what :class:`EloRating` stores)."""

    rating: float = 1000.0
    votes: int = 0
    wins: int = 0
    losses: int = 0
    ties: int = 0


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
        out.append(OUTCOME_OF_CHOICE[choice])
    table = elo_replay(a, b, out, num_models=len(keys), both_bad_counts=both_bad_counts)
    return {
        key: Standing(
            float(table.ratings[0, k]),
            int(table.votes[0, k]),
            int(table.wins[0, k]),
            int(table.losses[0, k]),
            int(table.ties[0, k]),
        )
        for key, k in keys.items()
        if table.votes[0, k]
    }


def elo_row(*, arena: Arena, contender_id: int, standing: Standing) -> EloRating:
    """A standing as the (unsaved) row that stores it."""
    return EloRating(
        arena=arena,
        contender_id=contender_id,
        rating=standing.rating,
        votes=standing.votes,
        wins=standing.wins,
        losses=standing.losses,
        ties=standing.ties,
    )


@transaction.atomic
def elo_store(*, arena: Arena, standings: dict[int, Standing]) -> None:
    """Store the arena's live Elo, one standing per contender id; the contenders without
    counted votes go back to the start (two statements in all)."""
    played = {pk: s for pk, s in standings.items() if s.votes}
    EloRating.objects.bulk_create(
        [elo_row(arena=arena, contender_id=pk, standing=s) for pk, s in played.items()],
        update_conflicts=True,
        unique_fields=["arena", "contender"],
        update_fields=["rating", "votes", "wins", "losses", "ties", "updated_at"],
    )
    EloRating.objects.filter(arena=arena).exclude(contender_id__in=list(played)).update(
        rating=1000.0, votes=0, wins=0, losses=0, ties=0
    )


def elo_rebuild(*, arena: Arena) -> dict[Hashable, Standing]:
    """Recompute and store the arena's live Elo from its counted votes, in order (the
    leaderboard refresh does the same from numpy columns)."""
    votes = (
        Vote.objects.filter(battle__arena=arena, is_valid=True)
        .order_by("created_at", "pk")
        .values_list("battle__left_id", "battle__right_id", "choice")
    )
    standings = elo_standings(
        votes.iterator(chunk_size=5000), both_bad_counts=arena.both_bad_counts_as_tie
    )
    elo_store(
        arena=arena,
        standings={cast(int, pk): s for pk, s in standings.items()},  # keyed by contender id
    )
    return standings


def _names_of(battle: Battle) -> list[str]:
    names = []
    for contender in (battle.left, battle.right):
        names += [
            contender.name,
            contender.organization,
            contender.provider.name,
            contender.model_id,
        ]
    return [n.casefold() for n in names if n and len(n) >= 3]


def vote_invalid_reason(
    *,
    battle: Battle,
    seconds_to_vote: float | None,
    history: VoterHistory,
    voter_address: str | None = None,
) -> str:
    """Why this vote must not count ("" when it counts). Checked inside the vote's transaction,
    with the voter's `history` read by the statement that locked the battle (`battle_lock`).

    `voter_address` is the keyed hash of the client's address: "" when the request had no
    usable address (stored, not counted), None when the vote did not come over the network.
    """
    if battle.mode == BattleMode.SIDE_BY_SIDE:  # the voter saw the names: never counted
        return InvalidReason.SIDE_BY_SIDE
    if battle.arena.modality == Modality.TEXT:  # only text outputs can spell a name out
        names = _names_of(battle)
        for text in battle.outputs.values_list("text", flat=True):
            if text and any(name in text.casefold() for name in names):
                return InvalidReason.IDENTITY_LEAKED
    if battle.arena.modality == Modality.IMAGE_EDIT:  # both sides must edit the same bytes
        hashes = set(battle.outputs.values_list("input_sha256", flat=True))
        if len(hashes) != 1 or "" in hashes:
            return InvalidReason.INPUT_MISMATCH
    if history.flagged:
        return InvalidReason.FLAGGED_VOTER
    if voter_address == "":
        return InvalidReason.NO_ADDRESS
    if seconds_to_vote is not None and seconds_to_vote < settings.ARENA_MIN_VOTE_SECONDS:
        return InvalidReason.TOO_FAST
    if history.same_prompt:
        return InvalidReason.REPEATED_PROMPT
    if history.voter_today >= settings.ARENA_VOTER_DAILY_CAP:
        return InvalidReason.DAILY_CAP
    budget = settings.ARENA_MAX_COUNTED_VOTES_PER_ADDRESS_PER_DAY
    if voter_address and budget and history.address_today >= budget:
        return InvalidReason.ADDRESS_BUDGET
    return ""


def vote_cast(
    *,
    battle_id: object,
    voter_id: str,
    choice: object,
    idempotency_key: str = "",
    voter_address: str | None = None,
    proof_of_work: bool = True,
) -> CastVote:
    """Store the vote in one short transaction that locks only its battle; names are revealed
    only after. The ratings follow in the background (`vote_stored` is sent on commit; the
    leaderboards app schedules a refresh).

    Every vote on a ready battle is stored; one that breaks a quality rule is kept with its
    reason and does not move the ratings. `voter_address`: see `vote_invalid_reason`.
    `proof_of_work` is False for a voter id that has not solved its challenge yet: the vote is
    refused with instructions (nothing is stored, the same vote can be sent again).
    Costs: one pipelined Redis round trip for the rate limits, then SELECT ... FOR UPDATE OF
    the battle (with every rule's subquery), then the INSERT and UPDATE (one statement on
    PostgreSQL); a text arena reads its outputs.
    """
    parsed = choice_parse(choice)
    if len(idempotency_key) > 100:
        raise InvalidInput("Idempotency-Key must be at most 100 characters.")
    if not idempotency_key.isprintable():
        raise InvalidInput("Idempotency-Key must not contain control characters.")
    if not proof_of_work and pow_required():
        raise ProofOfWorkRequired(how_to_solve())
    window = settings.ARENA_RATE_WINDOW_S
    rate_limits_hit(
        [
            Limit(
                scope="vote-voter",
                key=voter_id,
                limit=settings.ARENA_RATE_VOTES_PER_VOTER,
                window_s=window,
                what="votes",
            ),
            Limit(
                scope="vote-address",
                key=voter_address or "",
                limit=settings.ARENA_RATE_VOTES_PER_ADDRESS,
                window_s=window,
                what="votes from your network",
            ),
        ]
    )
    try:
        with transaction.atomic():
            locked = battle_lock(
                battle_id=battle_id, voter_id=voter_id, voter_address=voter_address or ""
            )
            battle, history = locked if locked is not None else (None, VoterHistory())
            if battle is None or not voter_id or battle.voter_id != voter_id:
                # another voter's battle reads exactly like a missing one (privacy)
                raise NotFound("There is no such battle.")
            if battle.status == BattleStatus.VOTED:
                existing = Vote.objects.filter(battle=battle).first()
                if (
                    existing is not None
                    and idempotency_key
                    and (existing.idempotency_key == idempotency_key)
                ):
                    return CastVote(existing, battle, replayed=True)
                raise Conflict("You have already voted on this battle.")
            if battle.status == BattleStatus.FAILED:
                raise Conflict("This battle failed, so it cannot be voted on. Start a new one.")
            if battle.status != BattleStatus.READY:
                raise Conflict("Please wait until both outputs are shown before voting.")
            now = timezone.now()
            seconds = (now - battle.ready_at).total_seconds() if battle.ready_at else None
            reason = vote_invalid_reason(
                battle=battle,
                seconds_to_vote=seconds,
                voter_address=voter_address,
                history=history,
            )
            vote = Vote(
                battle=battle,
                choice=parsed,
                voter_id=voter_id,
                voter_address=voter_address or "",
                idempotency_key=idempotency_key,
                seconds_to_vote=seconds,
                is_valid=not reason,
                invalid_reason=reason,
                created_at=now,
            )
            battle.status = BattleStatus.VOTED
            battle.finished_at = now
            vote_store(vote=vote, battle=battle)
            arena_id = battle.arena_id
            transaction.on_commit(lambda: vote_stored.send(sender=Vote, arena_id=arena_id))
    except IntegrityError:
        # Another request stored this battle's vote between our check and insert.
        raise Conflict("You have already voted on this battle.") from None
    return CastVote(vote, battle, replayed=False)
