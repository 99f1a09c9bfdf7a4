"""One row of a board, with one spelling everywhere: the refresh builds :class:`BoardRow`,
the stored snapshot (and the API) hold :meth:`BoardRow.as_dict`, and the readers parse it back
with :meth:`BoardRow.from_dict`. Rows carry the contender's id, so a rename in the admin keeps
one history: the display name is a label, the id is the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Interval = tuple[float | None, float | None, float | None]  # rating, ci_low, ci_high
# A board as stored in a snapshot and served by the API: JSON, its rows BoardRow.as_dict()
BoardJSON = dict[str, Any]


@dataclass(frozen=True)
class BoardRow:
    rank: int | None  # None for a provisional model (and on the live board without evidence)
    provisional: bool
    contender_id: int | None  # None only in snapshots stored before rows carried it
    model: str  # the display name when the board was computed
    organization: str
    demo: bool
    retired: bool
    rating: float | None
    ci_low: float | None
    ci_high: float | None
    elo: float | None
    votes: int
    wins: int
    ties: int
    losses: int
    win_rate: float | None
    style: Interval | None = None  # shown only when style control is identified
    ipw: Interval | None = None  # the inverse-probability weighted fit (ARENA_IPW)

    def as_dict(self) -> dict[str, Any]:
        """The row in the stored snapshot's and the API's shape (the style and IPW keys only
        when there is such a fit)."""
        row: dict[str, Any] = {
            "rank": self.rank,
            "provisional": self.provisional,
            "contender_id": self.contender_id,
            "model": self.model,
            "organization": self.organization,
            "demo": self.demo,
            "retired": self.retired,
            "rating": self.rating,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "elo": self.elo,
            "votes": self.votes,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "win_rate": self.win_rate,
        }
        if self.style is not None:
            row.update(
                zip(("style_rating", "style_ci_low", "style_ci_high"), self.style, strict=True)
            )
        if self.ipw is not None:
            row.update(zip(("ipw_rating", "ipw_ci_low", "ipw_ci_high"), self.ipw, strict=True))
        return row

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> BoardRow:
        """A stored row back (older snapshots may lack ``contender_id``, ``provisional`` or
        ``retired``)."""
        style = ipw = None
        if "style_rating" in row:
            style = (row["style_rating"], row.get("style_ci_low"), row.get("style_ci_high"))
        if "ipw_rating" in row:
            ipw = (row["ipw_rating"], row.get("ipw_ci_low"), row.get("ipw_ci_high"))
        return cls(
            rank=row.get("rank"),
            provisional=bool(row.get("provisional", row.get("rating") is None)),
            contender_id=row.get("contender_id"),
            model=str(row["model"]),
            organization=str(row.get("organization", "")),
            demo=bool(row.get("demo", False)),
            retired=bool(row.get("retired", False)),
            rating=row.get("rating"),
            ci_low=row.get("ci_low"),
            ci_high=row.get("ci_high"),
            elo=row.get("elo"),
            votes=int(row.get("votes", 0)),
            wins=int(row.get("wins", 0)),
            ties=int(row.get("ties", 0)),
            losses=int(row.get("losses", 0)),
            win_rate=row.get("win_rate"),
            style=style,
            ipw=ipw,
        )

    @property
    def key(self) -> int | str:
        """What identifies the model across snapshots: its id (its name in old snapshots)."""
        return self.model if self.contender_id is None else self.contender_id


def board_rows(rows: object) -> list[BoardRow]:
    """A snapshot's stored rows (a JSON list of dicts) as typed rows."""
    assert isinstance(rows, list), "a board's rows are a list"
    return [BoardRow.from_dict(row) for row in rows]
