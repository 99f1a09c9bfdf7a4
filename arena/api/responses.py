"""JSON plumbing shared by the API views: parse bodies, map errors to clear responses."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from arena.battles.errors import ArenaError, InvalidInput

logger = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return data


def api_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Turn service errors and a lost database into JSON errors; never an HTML 500."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except ArenaError as exc:
            retry_after = getattr(exc, "retry_after", None)
            headers = {"Retry-After": str(retry_after)} if retry_after else None
            return error_response(exc.status, exc.code, exc.message, headers=headers)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("database unavailable: %s", exc)
            return error_response(
                503,
                "database_unavailable",
                "The service is briefly unavailable and nothing was stored; please retry.",
                headers={"Retry-After": "2"},
            )
        except DatabaseError:
            logger.exception("database error")
            return error_response(503, "database_error",
                                  "The request could not be stored; please retry.",
                                  headers={"Retry-After": "2"})

    return wrapper
