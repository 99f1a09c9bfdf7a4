"""The vote export researchers use to recompute the leaderboard (`python -m ratings` reads it).

Columns follow the public battle dumps of the best-known LLM arena (model_a, model_b, winner),
plus battle id, timestamp, an anonymised voter id and the prompt category. Never an IP, a
session or a raw voter id.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from arena.battles.models import Arena
from arena.battles.voters import keyed_hash
from arena.leaderboards.services import WINNER_OF_CHOICE
from arena.votes.models import Choice, Vote

COLUMNS = ["battle_id", "model_a", "model_b", "winner", "timestamp", "voter", "category"]


def voter_pseudonym(voter_id: str) -> str:
    return keyed_hash("export", voter_id, length=16)


def votes_export_rows(*, arena: Arena) -> Iterator[dict[str, str]]:
    votes = (Vote.objects.filter(battle__arena=arena, is_valid=True).order_by("created_at", "pk")
             .values_list("battle_id", "battle__left__name", "battle__right__name", "choice",
                          "created_at", "voter_id", "battle__prompt__category"))
    for battle_id, left, right, choice, at, voter_id, category in votes.iterator(chunk_size=2000):
        yield {"battle_id": str(battle_id), "model_a": left, "model_b": right,
               "winner": WINNER_OF_CHOICE[Choice(choice)], "timestamp": at.isoformat(),
               "voter": voter_pseudonym(voter_id), "category": category or ""}


def votes_export_jsonl(*, arena: Arena) -> Iterator[str]:
    for row in votes_export_rows(arena=arena):
        yield json.dumps(row) + "\n"


def votes_export_csv(*, arena: Arena) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in votes_export_rows(arena=arena):
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
