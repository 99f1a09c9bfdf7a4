"""Online Elo kept from one refresh to the next: a checkpoint stores every board's ratings
after the first N counted votes and a digest of those votes; the next refresh replays only
the votes after them when the first N votes it reads still have that digest. Any change
among them (a vote excluded, deleted, its choice or category changed, a late commit with an
earlier timestamp, another category list or both-bad rule) changes the digest, and the
refresh replays every vote: the result always equals a full replay, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from arena.battles.models import Arena
from arena.leaderboards.models import EloCheckpoint
from arena.votes.stream import VoteColumns
from ratings.replay import EloTable, elo_replay

_MIX = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0x165667B19E3779F9),
    np.uint64(0x27D4EB2F165667C5),
    np.uint64(0xFF51AFD7ED558CCD),
)


def votes_digest(columns: VoteColumns, n: int) -> str:
    """A 64-bit digest of the first ``n`` votes (time, contenders, outcome, category, voter
    and position of each): equal digests mean the same votes in the same order."""
    with np.errstate(over="ignore"):
        h = np.arange(n, dtype=np.uint64) * _MIX[0]
        for k, column in enumerate(
            (
                columns.created,
                columns.left,
                columns.right,
                columns.outcome * 16 + columns.group + 1,
                columns.voter,
            )
        ):
            h ^= column[:n].astype(np.int64).view(np.uint64) * _MIX[k % 4 + 1]
            h ^= h >> np.uint64(29)
            h *= _MIX[4]
        total = int(h.sum(dtype=np.uint64)) if n else 0
    return f"{n:x}-{total:016x}"


def elo_resume(
    *,
    arena: Arena,
    columns: VoteColumns,
    model_a: npt.NDArray[np.int64],
    model_b: npt.NDArray[np.int64],
    names: Sequence[str],
    contender_ids: Sequence[int],
    categories: Sequence[str],
    phases: dict[str, float] | None = None,
) -> EloTable:
    """The online Elo table of every board (:func:`ratings.replay.elo_replay`), resumed from
    the arena's checkpoint when it still holds, and the checkpoint moved to the end.

    ``contender_ids[k]`` is the contender of column ``k`` (``names[k]`` its display name): the
    checkpoint's columns are matched by id, so renaming a contender keeps its Elo."""
    both_bad_counts = arena.both_bad_counts_as_tie
    boards = len(categories) + 1
    start, resume_at = None, 0
    checkpoint = EloCheckpoint.objects.filter(arena=arena).first()
    n = int(columns.left.shape[0])
    if (
        checkpoint is not None
        and checkpoint.both_bad_counts == both_bad_counts
        and list(checkpoint.categories) == list(categories)
        and checkpoint.votes <= n
        and votes_digest(columns, int(checkpoint.votes)) == checkpoint.digest
    ):
        position: dict[int | str, int] = {pk: k for k, pk in enumerate(contender_ids)}
        # checkpoints written before they held ids: matched by name, once
        saved: list[int | str] = list(checkpoint.contender_ids or checkpoint.model_names)
        if not checkpoint.contender_ids:
            position = {name: k for k, name in enumerate(names)}
        start = np.full((boards, len(names)), 1000.0)
        for k, key in enumerate(saved):
            if key in position:
                start[:, position[key]] = [row[k] for row in checkpoint.ratings]
        resume_at = int(checkpoint.votes)
    table = elo_replay(
        model_a,
        model_b,
        columns.outcome,
        num_models=len(names),
        group=columns.group,
        num_groups=len(categories),
        both_bad_counts=both_bad_counts,
        resume_from=start,
        resume_at=resume_at,
    )
    if phases is not None:
        phases["elo_votes_replayed"] = n - resume_at
    EloCheckpoint.objects.update_or_create(
        arena=arena,
        defaults={
            "votes": n,
            "digest": votes_digest(columns, n),
            "both_bad_counts": both_bad_counts,
            "categories": list(categories),
            "model_names": list(names),
            "contender_ids": list(contender_ids),
            "ratings": table.ratings.tolist(),
        },
    )
    return table
