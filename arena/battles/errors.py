"""Errors the services raise; the API and pages turn them into clear messages and statuses."""

from __future__ import annotations


class ArenaError(Exception):
    """A request the arena refuses, with a message a person understands."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ArenaError):
    status = 400
    code = "invalid_input"


class NotFound(ArenaError):
    status = 404
    code = "not_found"


class Forbidden(ArenaError):
    status = 403
    code = "forbidden"


class Conflict(ArenaError):
    status = 409
    code = "conflict"


class Unavailable(ArenaError):
    status = 503
    code = "unavailable"
