"""Casting a vote: one short transaction, one vote per battle. The live Elo is not touched
here: the leaderboard refresh, requested on commit, replays it (see `elo_standings`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Model
from django.db.models.signals import post_save
from django.utils import timezone

from arena.battles.errors import Conflict, InvalidInput, NotFound
from arena.battles.models import (
    Arena,
    Battle,
    BattleMode,
    BattleStatus,
    Contender,
    Modality,
    Prompt,
    Provider,
)
from arena.battles.ratelimit import Limit, rate_limits_hit
from arena.db import prepared_cursor
from arena.votes.challenge import ProofOfWorkRequired, how_to_solve, pow_required
from arena.votes.models import (
    OUTCOME_OF_CHOICE,
    Choice,
    EloRating,
    FlaggedVoter,
    InvalidReason,
    Vote,
)
from arena.votes.signals import vote_stored
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


@transaction.atomic
def elo_store(*, arena: Arena, standings: dict[int, Standing]) -> None:
    """Store the arena's live Elo, one standing per contender id; the contenders without
    counted votes go back to the start (two statements in all)."""
    played = {pk: s for pk, s in standings.items() if s.votes}
    EloRating.objects.bulk_create(
        [
            EloRating(
                arena=arena,
                contender_id=pk,
                rating=s.rating,
                votes=s.votes,
                wins=s.wins,
                losses=s.losses,
                ties=s.ties,
            )
            for pk, s in played.items()
        ],
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


@dataclass(frozen=True)
class VoterHistory:
    """What the quality rules need to know about the voter and the address, read in the same
    statement that locks the battle."""

    flagged: bool = False
    same_prompt: bool = False
    voter_today: int = 0
    address_today: int = 0


def _history_sql(voter_id: str, voter_address: str) -> tuple[list[str], list[Any]]:
    """One scalar subquery per rule, for the statement that locks the battle (the day is a
    rolling 24 hours), and their parameters in order. Counts read the partial indexes of
    counted votes (vote_counted_by_voter / vote_counted_by_address)."""
    quote = connection.ops.quote_name
    battle, vote = quote(Battle._meta.db_table), quote(Vote._meta.db_table)
    prompt, flagged = quote(Prompt._meta.db_table), quote(FlaggedVoter._meta.db_table)
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(days=1))
    counted = f"SELECT COUNT(*) FROM {vote} c WHERE c.is_valid AND c.created_at >= %s AND c."
    sql = [
        # the voter is flagged
        f"EXISTS (SELECT 1 FROM {flagged} f WHERE f.voter_id = %s)",
        # the voter already has a counted vote on the same prompt in this arena
        f"EXISTS (SELECT 1 FROM {vote} v JOIN {battle} b ON b.id = v.battle_id "
        f"JOIN {prompt} p ON p.id = b.prompt_id WHERE v.voter_id = %s AND v.is_valid "
        f"AND b.arena_id = {battle}.arena_id AND p.text_hash = (SELECT p2.text_hash FROM "
        f"{prompt} p2 WHERE p2.id = {battle}.prompt_id))",
        # counted votes of the voter, and of the address (none without one), in 24 hours
        f"({counted}voter_id = %s)",
        f"(CASE WHEN %s = '' THEN 0 ELSE ({counted}voter_address = %s) END)",
    ]
    return sql, [voter_id, voter_id, since, voter_id, voter_address, since, voter_address]


def _history_from(values: Sequence[Any]) -> VoterHistory:
    flagged, same_prompt, voter_today, address_today = values
    return VoterHistory(
        flagged=bool(flagged),
        same_prompt=bool(same_prompt),
        voter_today=int(voter_today),
        address_today=int(address_today),
    )


def _history_read(*, battle: Battle, voter_id: str, voter_address: str) -> VoterHistory:
    history, params = _history_sql(voter_id, voter_address)
    table = connection.ops.quote_name(Battle._meta.db_table)
    key = Battle._meta.pk.get_db_prep_value(battle.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(history)} FROM {table} WHERE {table}.id = %s", [*params, key]
        )
        row = cursor.fetchone()
    return _history_from(row) if row is not None else VoterHistory()


# The columns the vote reads, per model: the battle whole, what revealing and the quality rules
# need of the rest (anything else is loaded on access, like a deferred field).
_LOCK_COLUMNS: tuple[tuple[type[Model], str, tuple[str, ...] | None], ...] = (
    (Battle, Battle._meta.db_table, None),
    (Arena, "va", ("id", "slug", "modality", "both_bad_counts_as_tie")),
    (Contender, "vl", ("id", "name", "organization", "provider", "model_id")),
    (Provider, "vlp", ("id", "name", "kind")),
    (Contender, "vr", ("id", "name", "organization", "provider", "model_id")),
    (Provider, "vrp", ("id", "name", "kind")),
)


@dataclass(frozen=True)
class _LockStatement:
    """The vote's one read, written once per process and database: building it with the ORM
    cost about two thirds of a vote's Python time (profiled under load), for a statement whose
    shape never changes."""

    sql: str
    # per model: its attribute names, and (column index, expression, converters) to apply
    loads: tuple[tuple[type[Model], tuple[str, ...], tuple[tuple[int, Any, list[Any]], ...]], ...]


_lock_statements: dict[str, _LockStatement] = {}


def _column(field: Field) -> str:
    """A concrete field's column name (the stubs allow None, which only fields without a
    column of their own have)."""
    return cast(str, field.column)


def _lock_statement() -> _LockStatement:
    vendor = connection.vendor
    built = _lock_statements.get(vendor)
    if built is not None:
        return built
    quote = connection.ops.quote_name
    columns: list[str] = []
    loads = []
    for model, alias, names in _LOCK_COLUMNS:
        # in the model's own order, as Model.from_db expects a subset
        fields = [f for f in model._meta.concrete_fields if names is None or f.name in names]
        converters = []
        for field in fields:
            col = field.get_col(alias)
            found = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
            if found:
                converters.append((len(columns), col, found))
            columns.append(f"{quote(alias)}.{quote(_column(field))}")
        loads.append((model, tuple(f.attname for f in fields), tuple(converters)))
    battle, arena = quote(Battle._meta.db_table), quote(Arena._meta.db_table)
    contender, provider = quote(Contender._meta.db_table), quote(Provider._meta.db_table)
    history, _ = _history_sql("", "")
    lock = f" FOR UPDATE OF {battle}" if connection.features.has_select_for_update_of else ""
    sql = (
        f"SELECT {', '.join(columns + history)} FROM {battle} "
        f"JOIN {arena} va ON va.id = {battle}.arena_id "
        f"JOIN {contender} vl ON vl.id = {battle}.left_id "
        f"JOIN {provider} vlp ON vlp.id = vl.provider_id "
        f"JOIN {contender} vr ON vr.id = {battle}.right_id "
        f"JOIN {provider} vrp ON vrp.id = vr.provider_id "
        f"WHERE {battle}.id = %s{lock}"
    )
    built = _LockStatement(sql, tuple(loads))
    _lock_statements[vendor] = built
    return built


def _battle_lock(
    *, battle_id: object, voter_id: str, voter_address: str
) -> tuple[Battle, VoterHistory] | None:
    """Lock the battle row (only it) and read, in the same statement, its arena, both
    contenders with their providers and every quality rule's history; None if no such battle.
    """
    statement = _lock_statement()
    try:
        key = Battle._meta.pk.get_db_prep_value(Battle._meta.pk.to_python(battle_id), connection)
    except ValidationError:
        return None
    _, params = _history_sql(voter_id, voter_address)
    with prepared_cursor() as cursor:  # planned once per connection: see arena.db
        cursor.execute(statement.sql, [*params, key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, col, converters in (c for _, _, cs in statement.loads for c in cs):
        for convert in converters:
            values[index] = convert(values[index], col, connection)
    objects: list[Model] = []  # in _LOCK_COLUMNS' order; from_db is typed as returning Model
    start = 0
    for model, names, _ in statement.loads:
        objects.append(model.from_db(connection.alias, names, values[start : start + len(names)]))
        start += len(names)
    battle = cast(Battle, objects[0])
    arena = cast(Arena, objects[1])
    left, right = cast(Contender, objects[2]), cast(Contender, objects[4])
    left_provider, right_provider = cast(Provider, objects[3]), cast(Provider, objects[5])
    left.provider, right.provider = left_provider, right_provider
    battle.arena, battle.left, battle.right = arena, left, right
    return battle, _history_from(values[start:])


_VOTE_UPDATE = ("status", "finished_at")


def _store_statements() -> tuple[str, list[Field], str, list[Field]]:
    """The vote's INSERT and the battle's UPDATE, written once per database (as for the lock
    read: the ORM's save cost more Python time than the statements take to run)."""
    vendor = connection.vendor
    built = _store_built.get(vendor)
    if built is not None:
        return built
    quote = connection.ops.quote_name
    vote_fields = [f for f in Vote._meta.concrete_fields if not f.primary_key]
    returning = (
        f" RETURNING {quote(_column(Vote._meta.pk))}"
        if connection.features.can_return_columns_from_insert
        else ""
    )
    insert = (
        f"INSERT INTO {quote(Vote._meta.db_table)} "
        f"({', '.join(quote(_column(f)) for f in vote_fields)}) "
        f"VALUES ({', '.join(['%s'] * len(vote_fields))}){returning}"
    )
    battle_fields = [cast(Field, Battle._meta.get_field(name)) for name in _VOTE_UPDATE]
    table = quote(Battle._meta.db_table)
    update = (
        f"UPDATE {table} SET {', '.join(f'{quote(_column(f))} = %s' for f in battle_fields)} "
        f"WHERE {table}.{quote(_column(Battle._meta.pk))} = %s"
    )
    built = (insert, vote_fields, update, battle_fields)
    _store_built[vendor] = built
    return built


_store_built: dict[str, tuple[str, list[Field], str, list[Field]]] = {}


def _vote_store(*, vote: Vote, battle: Battle) -> None:
    """INSERT the vote and mark its battle voted (two prepared statements), then send the
    post_save signals that Model.save would (the metrics count votes there)."""
    insert, vote_fields, update, battle_fields = _store_statements()
    with prepared_cursor() as cursor:
        cursor.execute(
            insert, [f.get_db_prep_save(getattr(vote, f.attname), connection) for f in vote_fields]
        )
        vote.pk = (
            cursor.fetchone()[0]
            if connection.features.can_return_columns_from_insert
            else cursor.lastrowid
        )
        cursor.execute(
            update,
            [
                *(
                    f.get_db_prep_save(getattr(battle, f.attname), connection)
                    for f in battle_fields
                ),
                Battle._meta.pk.get_db_prep_value(battle.pk, connection),
            ],
        )
    using = connection.alias
    vote._state.adding, vote._state.db = False, using
    post_save.send(
        sender=Vote, instance=vote, created=True, update_fields=None, raw=False, using=using
    )
    post_save.send(
        sender=Battle,
        instance=battle,
        created=False,
        update_fields=frozenset(_VOTE_UPDATE),
        raw=False,
        using=using,
    )


def vote_invalid_reason(
    *,
    battle: Battle,
    voter_id: str,
    seconds_to_vote: float | None,
    voter_address: str | None = None,
    history: VoterHistory | None = None,
) -> str:
    """Why this vote must not count ("" when it counts). Checked inside the vote's transaction.

    `voter_address` is the keyed hash of the client's address: "" when the request had no
    usable address (stored, not counted), None when the vote did not come over the network.
    Without `history` it is read here (one statement).
    """
    if history is None:
        history = _history_read(battle=battle, voter_id=voter_id, voter_address=voter_address or "")
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
    the battle (with every rule's subquery), INSERT, UPDATE; a text arena reads its outputs.
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
            locked = _battle_lock(
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
                voter_id=voter_id,
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
            _vote_store(vote=vote, battle=battle)
            arena_id = battle.arena_id
            transaction.on_commit(lambda: vote_stored.send(sender=Vote, arena_id=arena_id))
    except IntegrityError:
        # Another request stored this battle's vote between our check and insert.
        raise Conflict("You have already voted on this battle.") from None
    return CastVote(vote, battle, replayed=False)
