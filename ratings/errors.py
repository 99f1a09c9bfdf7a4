"""Named errors raised by the ratings package.

Every error derives from :class:`RatingsError` (itself a ``ValueError``) so callers (the web
site, the command line) can catch one type and show the message, which always says what was
wrong and where.
"""

from __future__ import annotations

__all__ = [
    "InvalidBattleError",
    "NoBattlesError",
    "RatingsError",
    "UnknownModelError",
    "UnknownWinnerError",
]


class RatingsError(ValueError):
    """Base class for every error raised by :mod:`ratings`."""


class UnknownWinnerError(RatingsError):
    """A battle's winner value is not one of the accepted outcome strings."""

    def __init__(self, row: int, value: object) -> None:
        self.row = row
        self.value = value
        super().__init__(
            f"row {row}: unknown winner value {value!r}; expected one of "
            "'model_a', 'model_b', 'tie', 'tie (bothbad)'"
        )


class InvalidBattleError(RatingsError):
    """A battle row is malformed (missing model name, a model playing itself, bad weight)."""

    def __init__(self, row: int, reason: str) -> None:
        self.row = row
        self.reason = reason
        super().__init__(f"row {row}: {reason}")


class NoBattlesError(RatingsError):
    """There is nothing to rate: no battles (left after filtering)."""


class UnknownModelError(RatingsError):
    """A model named by the caller (e.g. the anchor) does not occur in the data."""
