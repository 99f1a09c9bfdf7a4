"""The counted votes of an arena as numpy columns, in vote order: what the order-dependent
parts of a refresh (online Elo, voter review) read, with no Python object per vote."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from django.db import connection
from django.db.models import BigIntegerField, Case, F, Func, IntegerField, Value, When
from django.db.models.functions import Cast

from arena.battles.models import Arena
from arena.columns import EPOCH_2000_US, columns_fetch
from arena.votes.models import OUTCOME_OF_CHOICE, Vote

__all__ = [
    "EPOCH_2000_US",
    "OUTCOME_OF_CHOICE",
    "VoteColumns",
    "counted_vote_columns",
    "outcome_code",
    "voter_hash",
]


def outcome_code(field_name: str) -> Case:
    """The vote's choice as a `ratings.Winner` value (0 left, 1 right, 2 tie, 3 both bad)."""
    return Case(
        *(
            When(**{field_name: choice}, then=Value(code))
            for choice, code in OUTCOME_OF_CHOICE.items()
        ),
        default=Value(3),
        output_field=IntegerField(),
    )


@dataclass(frozen=True, eq=False)
class VoteColumns:
    """One entry per counted vote, sorted by (created_at, id). ``created`` is in microseconds
    (since 2000-01-01 on PostgreSQL; compare with :meth:`micros`); ``group`` the index of the
    prompt's category in the list asked for (-1: none); ``voter`` a 64-bit hash of the voter
    id on PostgreSQL (0 elsewhere); ``vote`` the vote's id (to name a voter by one of their
    votes, without a scan)."""

    created: npt.NDArray[np.int64]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    outcome: npt.NDArray[np.int64]
    group: npt.NDArray[np.int64]
    voter: npt.NDArray[np.int64]
    vote: npt.NDArray[np.int64]

    def select(self, keep: npt.NDArray[np.bool_]) -> VoteColumns:
        return VoteColumns(
            self.created[keep],
            self.left[keep],
            self.right[keep],
            self.outcome[keep],
            self.group[keep],
            self.voter[keep],
            self.vote[keep],
        )

    @staticmethod
    def micros(moment: datetime) -> int:
        """A datetime on the scale of ``created``."""
        us = int(round(moment.timestamp() * 1_000_000))
        return us - EPOCH_2000_US if connection.vendor == "postgresql" else us


def voter_hash() -> Func:
    return Func(
        F("voter_id"), Value(0), function="hashtextextended", output_field=BigIntegerField()
    )


def counted_vote_columns(*, arena: Arena, categories: Sequence[str] = ()) -> VoteColumns:
    """Fetch (packed binary blocks on PostgreSQL, :func:`arena.columns.columns_fetch`) and
    sort the arena's counted votes."""
    category = Case(
        *(When(battle__prompt__category=c, then=Value(k)) for k, c in enumerate(categories)),
        default=Value(-1),
        output_field=IntegerField(),
    )
    postgres = connection.vendor == "postgresql"
    qs = (
        Vote.objects.filter(battle__arena=arena, is_valid=True)
        .order_by()
        .annotate(
            o=outcome_code("choice"),
            g=category,
            a=Cast("battle__left_id", IntegerField()),
            b=Cast("battle__right_id", IntegerField()),
            h=voter_hash() if postgres else Value(0, output_field=BigIntegerField()),
        )
        .values_list("created_at", "pk", "a", "b", "o", "g", "h")
    )
    created, pk, left, right, outcome, group, voter = columns_fetch(
        qs, ["ts", "i8", "i4", "i4", "i4", "i4", "i8"], block_by=1
    )
    order = np.lexsort((pk, created))
    return VoteColumns(
        created[order],
        left[order].astype(np.int64),
        right[order].astype(np.int64),
        outcome[order].astype(np.int64),
        group[order].astype(np.int64),
        voter[order],
        pk[order],
    )
