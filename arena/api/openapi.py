"""The OpenAPI 3.1 description of the public JSON API (served at /api/openapi.json).

The document is data, in openapi.json beside this module; what it says about errors comes from
the one table of error codes (arena.battles.errors): an error response is written there as the
marker "x-error" under its status, and the error code's enum as "x-error-codes", both filled in
here. tests/fuzz/test_schemathesis.py fuzzes a live server from the document and checks every
response against it, so it must stay accurate: a new field or status belongs there first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arena.battles.errors import ErrorCode, codes_with_status

JSON = dict[str, Any]  # a piece of the document (JSON: any value under a key)

DOCUMENT = Path(__file__).with_name("openapi.json")
ERROR_MARKER = "x-error"
ERROR_CODES_MARKER = "x-error-codes"
_RETRY_AFTER: JSON = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def error_response(status: int) -> JSON:
    """The response for an error status: every code with that status and its meaning."""
    response: JSON = {
        "description": "; ".join(f"{code}: {code.meaning}" for code in codes_with_status(status)),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def _filled(node: Any) -> Any:
    if isinstance(node, list):
        return [_filled(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: JSON = {}
    for key, value in node.items():
        if value == ERROR_MARKER:
            out[key] = error_response(int(key))
        elif value == ERROR_CODES_MARKER:
            out[key] = [str(code) for code in ErrorCode]
        else:
            out[key] = _filled(value)
    return out


def openapi_document() -> JSON:
    """The document with its error responses and codes filled in from the error table."""
    document: JSON = _filled(json.loads(DOCUMENT.read_text(encoding="utf-8")))
    return document


OPENAPI: JSON = openapi_document()
