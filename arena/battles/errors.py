"""Every error code a request can get, with its HTTP status and what it means: the one table
the services' exceptions, the API's JSON errors, the pages and the OpenAPI document read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from generators.base import (
    BadConfiguration,
    GenerationTimeout,
    ModerationRefused,
    ProviderError,
    RateLimited,
)
from generators.netguard import UnsafeURL


class ErrorCode(StrEnum):
    """The ``error.code`` of a JSON error (see :data:`ERRORS` for status and meaning)."""

    BAD_REQUEST = "bad_request"
    INVALID_INPUT = "invalid_input"
    PROMPT_REFUSED = "prompt_refused"
    CSRF_FAILED = "csrf_failed"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PROOF_OF_WORK_REQUIRED = "proof_of_work_required"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    MODERATION_UNAVAILABLE = "moderation_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"
    DATABASE_ERROR = "database_error"

    @property
    def status(self) -> int:
        return ERRORS[self].status

    @property
    def meaning(self) -> str:
        return ERRORS[self].meaning


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    meaning: str  # when a client gets it (the OpenAPI document lists these per status)


ERRORS: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.BAD_REQUEST: ErrorSpec(400, "the request could not be read"),
    ErrorCode.INVALID_INPUT: ErrorSpec(400, "bad input: the message says what to change"),
    ErrorCode.PROMPT_REFUSED: ErrorSpec(400, "the prompt breaks the arena's content rules"),
    ErrorCode.CSRF_FAILED: ErrorSpec(403, "missing or wrong CSRF token"),
    ErrorCode.FORBIDDEN: ErrorSpec(403, "not allowed for this voter"),
    ErrorCode.NOT_FOUND: ErrorSpec(
        404,
        "no such arena, category or endpoint, or no battle of yours with this id "
        "(another voter's battle reads exactly like a missing one)",
    ),
    ErrorCode.METHOD_NOT_ALLOWED: ErrorSpec(405, "the endpoint does not take this method"),
    ErrorCode.CONFLICT: ErrorSpec(
        409, "already voted, or the battle is not ready or failed (share: not voted yet)"
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: ErrorSpec(413, "the body is larger than the server accepts"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: ErrorSpec(
        415, "the body is not JSON (send Content-Type: application/json)"
    ),
    ErrorCode.PROOF_OF_WORK_REQUIRED: ErrorSpec(
        428,
        "a new voter must first solve the proof-of-work challenge of /api/challenge; "
        "the message says how. Nothing was stored: send the same vote again after "
        "solving",
    ),
    ErrorCode.RATE_LIMITED: ErrorSpec(
        429, "too many requests from this voter or network; wait Retry-After seconds"
    ),
    ErrorCode.SERVER_ERROR: ErrorSpec(500, "an unexpected error (logged)"),
    ErrorCode.UNAVAILABLE: ErrorSpec(503, "temporarily unavailable (no models, no queue)"),
    ErrorCode.MODERATION_UNAVAILABLE: ErrorSpec(
        503, "the moderation service did not answer; retry"
    ),
    ErrorCode.DATABASE_UNAVAILABLE: ErrorSpec(
        503, "the database is briefly unavailable; nothing was stored; retry"
    ),
    ErrorCode.DATABASE_ERROR: ErrorSpec(503, "the request could not be stored; retry"),
}


def codes_with_status(status: int) -> list[ErrorCode]:
    return [code for code, spec in ERRORS.items() if spec.status == status]


class ArenaError(Exception):
    """A request the arena refuses, with a message a person understands. A subclass names its
    ``code``; the status comes from :data:`ERRORS`."""

    code = ErrorCode.BAD_REQUEST
    status = ERRORS[ErrorCode.BAD_REQUEST].status

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = ERRORS[cls.code].status

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ArenaError):
    code = ErrorCode.INVALID_INPUT


class NotFound(ArenaError):
    code = ErrorCode.NOT_FOUND


class Forbidden(ArenaError):
    code = ErrorCode.FORBIDDEN


class Conflict(ArenaError):
    code = ErrorCode.CONFLICT


class Unavailable(ArenaError):
    code = ErrorCode.UNAVAILABLE


class FailureCode(StrEnum):
    """Why one side of a battle failed (``Output.error_code``, ``ProviderCheck.error_code``):
    the providers' codes, spelt once in ``generators``, and the arena's own."""

    MODERATION = ModerationRefused.code
    RATE_LIMITED = RateLimited.code
    TIMEOUT = GenerationTimeout.code
    BAD_CONFIGURATION = BadConfiguration.code
    PROVIDER_ERROR = ProviderError.code
    UNSAFE_URL = UnsafeURL.code
    BAD_OUTPUT = "bad_output"  # the file came back but could not be read or normalised
    QUEUE_UNAVAILABLE = "queue_unavailable"
    CRASH = "crash"  # the task itself failed unexpectedly
    CANCELLED = "cancelled"  # skipped because the other side failed: not the provider's fault


PUBLIC_FAILURE: dict[str, str] = {
    FailureCode.MODERATION: "the model's provider refused this prompt",
    FailureCode.RATE_LIMITED: "the model's provider is busy",
    FailureCode.TIMEOUT: "the model took too long",
    FailureCode.BAD_CONFIGURATION: "the model is misconfigured",
    FailureCode.BAD_OUTPUT: "the model returned an unusable file",
    FailureCode.QUEUE_UNAVAILABLE: "the generation queue is unavailable; please try again shortly",
}
"""What a voter may read about a failed side: never the provider's own words (any other code
reads "the model's provider had an error")."""
