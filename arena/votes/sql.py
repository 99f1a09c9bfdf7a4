"""The vote's prepared SQL: the battle lock read with the voter's history, and the vote's store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Field
from django.utils import timezone

from arena.battles.models import Arena, Battle, Contender, Prompt, Provider
from arena.db import prepared_cursor, saved_signal
from arena.rows import RowsRead, column_name, lock_of, primary_key, quote, table
from arena.votes.models import FlaggedVoter, Vote


@dataclass(frozen=True)
class VoterHistory:
    """What the quality rules need to know about the voter and the address, read in the same
    statement that locks the battle."""

    flagged: bool = False
    same_prompt: bool = False
    voter_today: int = 0
    address_today: int = 0


def _history_columns() -> list[str]:
    """One scalar subquery per rule, for the statement that locks the battle (the day is a
    rolling 24 hours); their parameters, in order, are `_history_params`'. Counts read the
    partial indexes of counted votes (vote_counted_by_voter / vote_counted_by_address)."""
    battle, vote, prompt, flagged = table(Battle), table(Vote), table(Prompt), table(FlaggedVoter)
    counted = f"SELECT COUNT(*) FROM {vote} c WHERE c.is_valid AND c.created_at >= %s AND c."
    return [
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


def _history_params(voter_id: str, voter_address: str) -> list[Any]:
    """The parameters of `_history_columns`, per vote (the SQL itself is written once)."""
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(days=1))
    return [voter_id, voter_id, since, voter_id, voter_address, since, voter_address]


def _history_from(values: Sequence[Any]) -> VoterHistory:
    flagged, same_prompt, voter_today, address_today = values
    return VoterHistory(
        flagged=bool(flagged),
        same_prompt=bool(same_prompt),
        voter_today=int(voter_today),
        address_today=int(address_today),
    )


def _lock_tail() -> str:
    battle, arena = table(Battle), table(Arena)
    contender, provider = table(Contender), table(Provider)
    return (
        f"FROM {battle} "
        f"JOIN {arena} va ON va.id = {battle}.arena_id "
        f"JOIN {contender} vl ON vl.id = {battle}.left_id "
        f"JOIN {provider} vlp ON vlp.id = vl.provider_id "
        f"JOIN {contender} vr ON vr.id = {battle}.right_id "
        f"JOIN {provider} vrp ON vrp.id = vr.provider_id "
        f"WHERE {battle}.id = %s{lock_of(Battle._meta.db_table)}"
    )


# The vote's one read: the battle whole, what revealing and the quality rules need of the rest
# (anything else is loaded on access, like a deferred field), and every rule's history.
_LOCK_READ = RowsRead(
    (
        (Battle, Battle._meta.db_table, None),
        (Arena, "va", ("id", "slug", "modality", "both_bad_counts_as_tie")),
        (Contender, "vl", ("id", "name", "organization", "provider", "model_id")),
        (Provider, "vlp", ("id", "name", "kind")),
        (Contender, "vr", ("id", "name", "organization", "provider", "model_id")),
        (Provider, "vrp", ("id", "name", "kind")),
    ),
    _lock_tail,
    extra=_history_columns,
)


def battle_lock(
    *, battle_id: object, voter_id: str, voter_address: str
) -> tuple[Battle, VoterHistory] | None:
    """Lock the battle row (only it) and read, in the same statement, its arena, both
    contenders with their providers and every quality rule's history; None if no such battle.
    """
    try:
        key = primary_key(Battle, battle_id)
    except ValidationError:
        return None
    found = _LOCK_READ.row([*_history_params(voter_id, voter_address), key])
    if found is None:
        return None
    objects, history = found
    battle, arena = cast(Battle, objects[0]), cast(Arena, objects[1])
    left, right = cast(Contender, objects[2]), cast(Contender, objects[4])
    left.provider, right.provider = cast(Provider, objects[3]), cast(Provider, objects[5])
    battle.arena, battle.left, battle.right = arena, left, right
    return battle, _history_from(history)


_VOTE_UPDATE = ("status", "finished_at")


def _store_statements() -> tuple[str, list[Field], str, list[Field]]:
    """The vote's INSERT and the battle's UPDATE, written once per database (as for the lock
    read: the ORM's save cost more Python time than the statements take to run)."""
    vendor = connection.vendor
    built = _store_built.get(vendor)
    if built is not None:
        return built
    vote_fields = [f for f in Vote._meta.concrete_fields if not f.primary_key]
    returning = (
        f" RETURNING {quote(column_name(Vote._meta.pk))}"
        if connection.features.can_return_columns_from_insert
        else ""
    )
    insert = (
        f"INSERT INTO {table(Vote)} "
        f"({', '.join(quote(column_name(f)) for f in vote_fields)}) "
        f"VALUES ({', '.join(['%s'] * len(vote_fields))}){returning}"
    )
    battle_fields = [cast(Field, Battle._meta.get_field(name)) for name in _VOTE_UPDATE]
    battles = table(Battle)
    sets = ", ".join(f"{quote(column_name(f))} = %s" for f in battle_fields)
    where = f"WHERE {battles}.{quote(column_name(Battle._meta.pk))} = %s"
    update = f"UPDATE {battles} SET {sets} {where}"
    if vendor == "postgresql":
        # one statement, one round trip: the INSERT in a data-modifying WITH, the UPDATE
        # returning the new vote's id (the battle's row is locked by this transaction)
        insert = (
            f"WITH {quote('v')} AS ({insert}) UPDATE {battles} SET {sets} "
            f"FROM {quote('v')} {where} RETURNING {quote('v')}.{quote(column_name(Vote._meta.pk))}"
        )
        update = ""
    built = (insert, vote_fields, update, battle_fields)
    _store_built[vendor] = built
    return built


_store_built: dict[str, tuple[str, list[Field], str, list[Field]]] = {}


def vote_store(*, vote: Vote, battle: Battle) -> None:
    """INSERT the vote and mark its battle voted (one prepared statement on PostgreSQL, two
    elsewhere), then send the post_save signals that Model.save would (the metrics count
    votes there)."""
    insert, vote_fields, update, battle_fields = _store_statements()
    values = [f.get_db_prep_save(getattr(vote, f.attname), connection) for f in vote_fields]
    marks = [
        *(f.get_db_prep_save(getattr(battle, f.attname), connection) for f in battle_fields),
        Battle._meta.pk.get_db_prep_value(battle.pk, connection),
    ]
    with prepared_cursor() as cursor:
        if not update:  # PostgreSQL: both in one statement
            cursor.execute(insert, [*values, *marks])
            vote.pk = cursor.fetchone()[0]
        else:
            cursor.execute(insert, values)
            vote.pk = (
                cursor.fetchone()[0]
                if connection.features.can_return_columns_from_insert
                else cursor.lastrowid
            )
            cursor.execute(update, marks)
    vote._state.adding, vote._state.db = False, connection.alias
    saved_signal(vote, update_fields=None)
    saved_signal(battle, update_fields=_VOTE_UPDATE)
