"""JSON plumbing shared by the API views: parse bodies, map errors to clear responses."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.http.request import RawPostDataException

from arena.battles.errors import ArenaError, ErrorCode, InvalidInput

logger = logging.getLogger(__name__)


class PayloadTooLarge(ArenaError):
    code = ErrorCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaType(ArenaError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


def error_response(
    code: ErrorCode, message: str, headers: dict[str, str] | None = None
) -> JsonResponse:
    """``{"error": {"code", "message"}}`` with the code's status (arena.battles.errors)."""
    response = JsonResponse({"error": {"code": str(code), "message": message}}, status=code.status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def json_body(request: HttpRequest, *, fields: Iterable[str]) -> dict[str, Any]:
    """The body as a JSON object whose keys are all among `fields`, or a clear 4xx: never a
    500 whatever the bytes are. A misspelt or unsupported field is refused by name rather
    than silently ignored (a client sending "parms" would otherwise never learn why)."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."
        ) from None
    except RawPostDataException:  # a multipart form was parsed (and consumed) before the view
        raise UnsupportedMediaType(
            "Send the body as JSON with Content-Type: application/json."
        ) from None
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("The request body is not valid JSON.") from None
    except RecursionError:  # "[[[[...": the decoder recurses once per level
        raise InvalidInput("The request body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.")
    known = tuple(fields)
    unknown = [name for name in data if name not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown field{'s' if len(unknown) > 1 else ''} in the request body: "
            f"{', '.join(_quoted(name) for name in unknown[:10])}"
            f"{' and more' if len(unknown) > 10 else ''}. This endpoint accepts "
            f"{', '.join(known) if known else 'no fields'}."
        )
    return data


def _quoted(name: str, limit: int = 40) -> str:
    """A client's field name, shortened and with control characters shown escaped."""
    text = name if len(name) <= limit else name[:limit] + "…"
    return repr(text)


def allow_methods(
    *methods: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Like Django's require_http_methods, but the 405 says what to do, in JSON."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                return error_response(
                    ErrorCode.METHOD_NOT_ALLOWED,
                    f"This endpoint accepts {' or '.join(methods)}, not {request.method}.",
                    headers={"Allow": ", ".join(methods)},
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def api_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Turn service errors and a lost database into JSON errors; never an HTML 500."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except ArenaError as exc:
            retry_after = getattr(exc, "retry_after", None)
            headers = {"Retry-After": str(retry_after)} if retry_after else None
            return error_response(exc.code, exc.message, headers=headers)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("database unavailable: %s", exc)
            return error_response(
                ErrorCode.DATABASE_UNAVAILABLE,
                "The service is briefly unavailable and nothing was stored; please retry.",
                headers={"Retry-After": "2"},
            )
        except DataError as exc:
            # A value the database refuses (a NUL character, an out-of-range number): the
            # same request would fail again, so this is the client's 400, not a 503.
            logger.warning("database refused a value: %s", exc)
            return error_response(
                ErrorCode.INVALID_INPUT,
                "The request contains a value that cannot be stored (for example a NUL "
                "character or an out-of-range number); nothing was stored.",
            )
        except DatabaseError:
            logger.exception("database error")
            return error_response(
                ErrorCode.DATABASE_ERROR,
                "The request could not be stored; please retry.",
                headers={"Retry-After": "2"},
            )

    return wrapper
