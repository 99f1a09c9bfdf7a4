"""Response helpers for provider HTTP: deadlines, error text and status mapping, bounded reads."""

from __future__ import annotations

import email.utils
import json as jsonlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from generators.base import (
    BadConfiguration,
    GenerationTimeout,
    GeneratorError,
    ProviderError,
    RateLimited,
)
from generators.netguard import short_url

MAX_ERROR_TEXT = 600


class Deadline:
    """Overall time budget for one output; every timeout and sleep is clipped to it."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.started = time.monotonic()
        self.ends = self.started + budget_s

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def check(self, what: str) -> None:
        """Raise GenerationTimeout if the budget is spent before `what` can start."""
        if self.expired():
            raise GenerationTimeout(f"deadline of {self.budget_s:g}s passed before {what}")


@dataclass(frozen=True)
class Downloaded:
    """Bytes fetched from a result URL, with the (checked or sniffed) content type."""

    data: bytes
    content_type: str


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header given as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, when.timestamp() - current)


def error_text(response: requests.Response) -> str:
    """The provider's own error message, kept for operators (truncated)."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or "").strip()
        return text[:MAX_ERROR_TEXT] or (response.reason or "")
    return _error_from_json(body)[:MAX_ERROR_TEXT]


def _error_from_json(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            parts = [str(err[k]) for k in ("code", "type", "status") if err.get(k)]
            msg = str(err.get("message") or "")
            prefix = f"[{'/'.join(parts)}] " if parts else ""
            return prefix + (msg or jsonlib.dumps(err)[:MAX_ERROR_TEXT])
        if isinstance(err, str) and err:
            return err
        for key in ("detail", "message", "errors", "error_message", "title"):
            val = body.get(key)
            if val:
                return val if isinstance(val, str) else jsonlib.dumps(val)
    return jsonlib.dumps(body)


def json_body(response: requests.Response, provider: str) -> Any:
    """Decode a JSON response or raise a ProviderError naming the provider."""
    try:
        return response.json()
    except ValueError:
        snippet = (response.text or "")[:200]
        raise ProviderError(
            f"{provider}: expected JSON, got {response.headers.get('Content-Type')!r}: {snippet!r}"
        ) from None


def sniff_content_type(data: bytes) -> str | None:
    """Recognise the formats providers return when a CDN labels them octet-stream."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    return None


def type_allowed(content_type: str, allowed: Iterable[str]) -> bool:
    """`allowed` holds exact types ("image/png") or prefixes ending in "/" ("image/")."""
    ctype = content_type.split(";")[0].strip().lower()
    for item in allowed:
        item = item.lower()
        if ctype == item or (item.endswith("/") and ctype.startswith(item)):
            return True
        if item.endswith("/*") and ctype.startswith(item[:-1]):
            return True
    return False


def map_status(response: requests.Response, provider: str) -> GeneratorError:
    """Turn a final non-success HTTP response into the matching typed error."""
    status = response.status_code
    text = error_text(response)
    msg = f"{provider}: HTTP {status}: {text}"
    if status == 429:
        return RateLimited(msg, retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if status in (401, 403):
        return BadConfiguration(f"{msg} (check the API key and its permissions)")
    if status == 402:
        return BadConfiguration(f"{msg} (account out of credits or billing not set up)")
    if status in (408, 504):
        return GenerationTimeout(msg)
    if status >= 500:
        return ProviderError(msg)
    return ProviderError(msg, permanent=True)


def result_type(
    response: requests.Response, data: bytes, allowed: tuple[str, ...], provider: str
) -> str:
    """The result's content type (sniffed when the header is missing or generic), or a
    permanent `ProviderError` when it is not one of `allowed`."""
    declared_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    ctype = declared_type.lower()
    if not ctype or ctype in ("application/octet-stream", "binary/octet-stream"):
        ctype = sniff_content_type(data) or ctype
    if not type_allowed(ctype, allowed):
        raise ProviderError(
            f"{provider}: result has content type {declared_type or 'none'!r}, "
            f"expected one of {', '.join(allowed)}",
            permanent=True,
        )
    return ctype


def read_body(
    response: requests.Response, limit: int, deadline: Deadline, *, truncate: bool = False
) -> None:
    """Read `response`'s body into `response.content`, at most `limit` decoded bytes:
    past it, cut (`truncate`, for error bodies) or a permanent `ProviderError`."""
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in response.iter_content(chunk_size=64 * 1024):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                response.raw.close()  # the rest is never read: the connection cannot be reused
                if truncate:
                    break
                raise ProviderError(
                    f"answer from {short_url(response.url)} is over the {limit} byte "
                    "limit (decoded)",
                    permanent=True,
                )
            deadline.check(f"reading the answer from {short_url(response.url)}")
    except requests.exceptions.RequestException:
        if not (truncate and chunks):
            raise
    response._content = b"".join(chunks)[:limit]
    response._content_consumed = True
    response.close()


def read_result(
    response: requests.Response, max_bytes: int, deadline: Deadline, provider: str
) -> bytes:
    """A result's whole body, at most `max_bytes` (declared or read: a permanent
    `ProviderError` past it) and within `deadline`; network errors propagate to the caller."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ProviderError(
            f"{provider}: result is {declared} bytes, over the {max_bytes} limit",
            permanent=True,
        )
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise ProviderError(
                f"{provider}: result exceeded the {max_bytes} byte limit", permanent=True
            )
        chunks.append(chunk)
        if deadline.expired():
            raise GenerationTimeout(f"{provider}: deadline passed while downloading the result")
    return b"".join(chunks)
