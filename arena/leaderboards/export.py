"""The vote export researchers use to recompute the leaderboard (`python -m ratings` reads it).

Columns follow the public battle dumps of the best-known LLM arena (model_a, model_b, winner),
plus a battle pseudonym, timestamp, an anonymised voter id and the prompt category. Never an IP,
a session, a raw voter id or a real battle id: battles belong to their voters, so the export's
battle_id is a keyed hash with its own purpose (stable across downloads, resolving nowhere).
Prompt text only when the operator sets ARENA_EXPORT_PROMPTS (the pages then say so), and only
of battles made while it was on: a prompt typed under the privacy promise is never published.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.conf import settings

from arena.battles.models import Arena, BattleMode
from arena.battles.voters import keyed_hash
from arena.leaderboards.rows import BoardJSON
from arena.leaderboards.services import WINNER_OF_CHOICE
from arena.votes.models import Choice, Vote

COLUMNS = ["battle_id", "model_a", "model_b", "winner", "timestamp", "voter", "category"]


def export_columns() -> list[str]:
    return [*COLUMNS, "prompt"] if settings.ARENA_EXPORT_PROMPTS else list(COLUMNS)


def voter_pseudonym(voter_id: str) -> str:
    return keyed_hash("export", voter_id, length=16)


def battle_pseudonym(battle_id: object) -> str:
    """Stable per battle, unlinkable to its id: 24 hex characters, not a UUID, so it cannot
    even be mistaken for one at /api/battles/."""
    return keyed_hash("export-battle", str(battle_id), length=24)


def votes_export_rows(
    *, arena: Arena, mode: str = BattleMode.ANONYMOUS
) -> Iterator[dict[str, str]]:
    """Counted votes; mode side_by_side: the named side-by-side votes instead (all stored,
    none counted)."""
    with_prompts = settings.ARENA_EXPORT_PROMPTS
    fields = [
        "battle_id",
        "battle__left__name",
        "battle__right__name",
        "choice",
        "created_at",
        "voter_id",
        "battle__prompt__category",
    ]
    if with_prompts:
        fields += ["battle__prompt__text", "battle__prompt_publishable"]
    chosen = (
        Vote.objects.filter(battle__arena=arena, battle__mode=BattleMode.SIDE_BY_SIDE)
        if mode == BattleMode.SIDE_BY_SIDE
        else Vote.objects.filter(battle__arena=arena, is_valid=True)
    )
    votes = chosen.order_by("created_at", "pk").values_list(*fields)
    for values in votes.iterator(chunk_size=2000):
        battle_id, left, right, choice, at, voter_id, category = values[:7]
        row = {
            "battle_id": battle_pseudonym(battle_id),
            "model_a": left,
            "model_b": right,
            "winner": WINNER_OF_CHOICE[Choice(choice)],
            "timestamp": at.isoformat(),
            "voter": voter_pseudonym(voter_id),
            "category": category or "",
        }
        if with_prompts:
            # Only battles made while the pages warned that prompts may be published: turning
            # the setting on never publishes what voters typed under the privacy promise.
            row["prompt"] = values[7] if values[8] else ""
        yield row


def votes_export_jsonl(*, arena: Arena, mode: str = BattleMode.ANONYMOUS) -> Iterator[str]:
    for row in votes_export_rows(arena=arena, mode=mode):
        yield json.dumps(row) + "\n"


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text_cell(text: str) -> str:
    """A voter's text made inert for spreadsheets: a leading apostrophe (OWASP's advice) when it
    could start a formula. Only the CSV is touched; the JSONL carries the exact text."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def votes_export_csv(*, arena: Arena, mode: str = BattleMode.ANONYMOUS) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=export_columns())
    writer.writeheader()
    for row in votes_export_rows(arena=arena, mode=mode):
        if "prompt" in row:  # the only column a voter writes
            row["prompt"] = csv_text_cell(row["prompt"])
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# The leaderboard table as a download: what the page's table shows, one row per model.
BOARD_COLUMNS = [
    "rank",
    "model",
    "organization",
    "demo",
    "rating",
    "ci_low",
    "ci_high",
    "elo",
    "style_rating",
    "votes",
    "win_rate",
    "provisional",
]


def leaderboard_csv(board: BoardJSON) -> str:
    """The board's rows as CSV (names are operator-written, still made inert for spreadsheets);
    a value the board does not have is an empty cell."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=BOARD_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in board.get("rows") or []:
        cells = {name: row.get(name) for name in BOARD_COLUMNS}
        for name in ("model", "organization"):
            cells[name] = csv_text_cell(str(cells[name] or ""))
        writer.writerow({k: "" if v is None else v for k, v in cells.items()})
    return buffer.getvalue()
