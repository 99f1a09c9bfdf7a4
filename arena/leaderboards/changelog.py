"""The board's changelog: what moved it, written by the refresh that first saw each change
(models added, ranked or retired, votes excluded and why, method changes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arena.battles.models import Arena
from arena.leaderboards.models import ChangeKind, LeaderboardChange, LeaderboardSnapshot
from arena.leaderboards.rows import BoardRow, board_rows
from arena.votes.models import InvalidReason

# The parameters whose change changes what the board computes, with their names on the page.
METHOD_PARAMS = {
    "bootstrap_rounds": "bootstrap rounds",
    "both_bad": "'both are bad' counted as",
    "min_votes_to_rank": "votes needed to be ranked",
    "style_control": "style control",
    "ipw": "inverse-probability weighted ratings",
}


def _models(
    rows: list[dict[str, Any]], ids: Mapping[str, int] | None = None
) -> dict[Any, BoardRow]:
    """Rows keyed by contender id (a rename is the same model); rows of snapshots stored
    before rows carried ids are matched by name through ``ids``."""
    typed = board_rows(rows)
    return {(ids or {}).get(r.model, r.key) if r.contender_id is None else r.key: r for r in typed}


def board_changes(
    *, previous: LeaderboardSnapshot | None, board: Mapping[str, Any], excluded: Mapping[str, int]
) -> list[LeaderboardChange]:
    """The changes between the previous overall board and this one (unsaved)."""
    now = _models(board["rows"])
    ids = {r.model: r.contender_id for r in now.values() if r.contender_id is not None}
    params = board["params"]
    changes: list[LeaderboardChange] = []

    def add(kind: str, text: str, **details: object) -> None:
        changes.append(LeaderboardChange(kind=kind, text=text[:500], details=details))

    if previous is None:
        ranked = sum(1 for r in now.values() if not r.provisional)
        add(
            ChangeKind.METHOD,
            f"First board: {len(now)} models, {ranked} ranked; recipe: {params.get('recipe', '')}",
            params={k: params.get(k) for k in METHOD_PARAMS},
        )
        for reason, n in sorted(excluded.items()):
            add(
                ChangeKind.VOTES_EXCLUDED,
                f"{n} votes not counted: {dict(InvalidReason.choices).get(reason, reason)}",
                reason=reason,
                count=n,
            )
        return changes
    before = _models(previous.rows, ids)
    for key in sorted(set(now) - set(before), key=lambda k: now[k].model):
        row = now[key]
        state = "provisional" if row.provisional else "ranked"
        add(
            ChangeKind.MODEL_ADDED,
            f"{row.model} added ({state}, {row.votes} votes)",
            model=row.model,
        )
    for key in sorted(set(now) & set(before), key=lambda k: now[k].model):
        was, row = before[key], now[key]
        model = row.model
        if was.provisional and not row.provisional:
            add(
                ChangeKind.MODEL_RANKED,
                f"{model} ranked: {row.votes} counted votes "
                f"reach the minimum of {params.get('min_votes_to_rank')}",
                model=model,
            )
        if row.retired and not was.retired:
            add(
                ChangeKind.MODEL_RETIRED,
                f"{model} retired: no longer drawn; its {row.votes} votes still count",
                model=model,
            )
    for key in sorted(set(before) - set(now), key=lambda k: before[k].model):
        model = before[key].model
        add(
            ChangeKind.MODEL_RETIRED, f"{model} retired (it had no counted votes here)", model=model
        )
    labels = dict(InvalidReason.choices)
    for reason, n in sorted(excluded.items()):
        grown = n - int(previous.excluded.get(reason, 0))
        if grown > 0:
            add(
                ChangeKind.VOTES_EXCLUDED,
                f"{grown} more votes not counted: {labels.get(reason, reason)} ({n} in all)",
                reason=reason,
                count=grown,
            )
    old_params = previous.params or {}
    if "min_votes_to_rank" not in old_params:  # a board from before provisional models
        add(
            ChangeKind.METHOD,
            "Method: models with fewer than "
            f"{params.get('min_votes_to_rank')} counted votes are provisional (no rating, "
            "interval or rank; their votes leave the fit); ratings to two decimals; recipe: "
            f"{params.get('recipe', '')}",
            param="min_votes_to_rank",
            after=params.get("min_votes_to_rank"),
        )
    for key, label in METHOD_PARAMS.items():
        if key in old_params and old_params.get(key) != params.get(key):
            add(
                ChangeKind.METHOD,
                f"Method: {label} {old_params.get(key)} → {params.get(key)}",
                param=key,
                before=old_params.get(key),
                after=params.get(key),
            )
    return changes


def changelog_record(
    *,
    arena: Arena,
    previous: LeaderboardSnapshot | None,
    board: Mapping[str, Any],
    excluded: Mapping[str, int],
) -> None:
    """Store what changed (inside the refresh's transaction)."""
    changes = board_changes(previous=previous, board=board, excluded=excluded)
    for change in changes:
        change.arena = arena
    LeaderboardChange.objects.bulk_create(changes)


def changes_latest(*, arena: Arena, limit: int) -> list[dict[str, object]]:
    """The newest entries, newest first, for the page and the API."""
    return [
        {"at": at.isoformat(), "kind": kind, "text": text}
        for at, kind, text in LeaderboardChange.objects.filter(arena=arena)
        .order_by("-at", "-pk")
        .values_list("at", "kind", "text")[:limit]
    ]
