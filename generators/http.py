"""The one choke point for provider HTTP: timeouts, bounded retries, deadlines, error mapping,
and the outbound-fetch guard.

Every remote provider goes through `HttpClient` so that retry/backoff, the per-output deadline
and the mapping of HTTP failures to the typed `GeneratorError`s behave the same everywhere, and
so that every URL a provider hands back (results, polling URLs, each redirect hop) passes the
`FetchGuard` (generators/netguard.py): only http(s), private addresses only at the provider's
configured base origin, the address actually connected to checked, credentials only to the
base origin. Redirects are followed here, hop by hop, never by requests itself. Every body is
read under a bound on its decoded size (a gzip bomb stops at the bound), and at the output's
deadline every socket the client opened is shut down (a server trickling bytes cannot hold the
thread past it).
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urljoin

import requests

from generators.base import (
    BadConfiguration,
    GenerationTimeout,
    GeneratorError,
    ProviderConfig,
    ProviderError,
    RateLimited,
)
from generators.coerce import as_float, as_int
from generators.netguard import FetchGuard, UnsafeURL, redact, short_url

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 522, 524, 529})
EXPIRED_URL_STATUSES = frozenset({403, 404, 410})
MAX_ERROR_TEXT = 600
# What an operator sees of one failure (Output.error, ProviderCheck.error), after redaction.
MAX_STORED_ERROR = 2000
MAX_REDIRECTS = 5
# Bodies read whole (JSON, an image answered inline): a bound on the *decoded* bytes, so a
# hostile server's gzip bomb or endless body cannot fill the worker's memory. Base64 images in
# JSON stay far below it; options.max_response_bytes overrides. Error bodies are cut shorter.
MAX_RESPONSE_BYTES = 128 * 1024 * 1024
MAX_ERROR_BODY = 256 * 1024
# How long past the deadline a blocked read may last before its socket is shut down.
DEADLINE_GRACE_S = 1.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Indirection so tests can observe sleeps; production code always sleeps for real.
sleep: Callable[[float], None] = time.sleep

ErrorHook = Callable[[requests.Response], "GeneratorError | None"]


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


class HttpClient:
    """A requests.Session bound to one provider config and one output's deadline.

    `headers` are the provider's credentials: they are sent only where the guard allows
    (the base origin, or `credential_domains`), never on a redirect or a URL elsewhere.
    """

    def __init__(
        self,
        config: ProviderConfig,
        deadline: Deadline,
        *,
        provider: str | None = None,
        headers: Mapping[str, str] | None = None,
        error_hook: ErrorHook | None = None,
        session: requests.Session | None = None,
        base_url: str | None = None,
        credential_domains: Iterable[str] = (),
        private_origins: Iterable[str] = (),
        guard: FetchGuard | None = None,
    ) -> None:
        self.config = config
        self.deadline = deadline
        self.provider = provider or config.kind
        self.error_hook = error_hook
        self.guard = guard or FetchGuard(
            config.base_url if base_url is None else base_url,
            credential_domains=credential_domains,
            private_origins=private_origins,
        )
        self.session = session or requests.Session()
        # no environment proxies or .netrc: the guard must see the address it connects to
        self.session.trust_env = False
        self.session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, self.guard.adapter())
        self.session.headers.update({"User-Agent": "model-arena/1"})
        self.auth_headers = dict(headers or {})
        self.secrets = [v for v in self.auth_headers.values() if v]
        if config.api_key:
            self.secrets.append(config.api_key)
        opts = config.options
        self.backoff_s = as_float(opts.get("retry_backoff_s", 0.5))
        self.backoff_max_s = as_float(opts.get("retry_backoff_max_s", 20.0))
        self.max_response_bytes = as_int(opts.get("max_response_bytes", MAX_RESPONSE_BYTES))
        # At the deadline every open socket is shut down: a server trickling its answer a byte
        # at a time (each read within the read timeout) cannot hold this thread past it.
        self._watchdog = threading.Timer(
            deadline.remaining() + DEADLINE_GRACE_S, self.guard.cut_all
        )
        self._watchdog.daemon = True
        self._watchdog.start()
        self.max_retries = max(0, int(config.max_retries))

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._watchdog.cancel()
        self.session.close()

    # ------------------------------------------------------------------ timing helpers
    def _timeout(self) -> tuple[float, float]:
        remaining = self.deadline.remaining()
        return (
            min(self.config.connect_timeout_s, remaining),
            min(self.config.timeout_s, remaining),
        )

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter (50–100 % of base·2^attempt, capped)."""
        base = min(self.backoff_max_s, self.backoff_s * (2**attempt))
        return base * random.uniform(0.5, 1.0)

    def _sleep_before_retry(self, delay: float, failure: GeneratorError) -> None:
        """Sleep `delay` unless that would overrun the deadline, in which case give up now."""
        if delay >= self.deadline.remaining():
            raise failure
        if delay > 0:
            sleep(delay)

    # ------------------------------------------------------------------ requests
    def request(
        self,
        method: str,
        url: str,
        *,
        ok: Iterable[int] = (200, 201, 202),
        retry_read_timeout: bool | None = None,
        stream: bool = False,
        use_hook: bool = True,
        send_auth: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with bounded retries; return a response whose status is in `ok` or raise.

        Read timeouts are retried only for idempotent methods unless told otherwise, since a
        POST that timed out may still be generating (and billing) on the provider's side.
        Every hop is checked by the guard (`UnsafeURL`, permanent, is never retried).
        """
        ok_set = set(ok)
        method = method.upper()
        if retry_read_timeout is None:
            retry_read_timeout = method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE")
        attempt = 0
        while True:
            self.deadline.check(f"{method} {self.provider}")
            failure: GeneratorError
            delay: float
            try:
                response = self._send(method, url, stream=stream, send_auth=send_auth, **kwargs)
            except requests.exceptions.ConnectTimeout as exc:
                failure = GenerationTimeout(
                    f"{self.provider}: connect timeout to {short_url(url)}: {exc}"
                )
                delay = self.backoff(attempt)
            except requests.exceptions.ReadTimeout:
                failure = GenerationTimeout(
                    f"{self.provider}: no answer from {_short(url)} within "
                    f"{self._timeout()[1] or self.config.timeout_s:.3g}s"
                )
                if not retry_read_timeout:
                    raise failure from None
                delay = self.backoff(attempt)
            except requests.exceptions.ConnectionError as exc:
                self._raise_if_cut()
                failure = ProviderError(
                    f"{self.provider}: connection error to {short_url(url)}: {exc}"
                )
                delay = self.backoff(attempt)
            except UnsafeURL as exc:
                raise UnsafeURL(f"{self.provider}: {exc.message}") from None
            except ProviderError as exc:  # the guard could not resolve a name, or too many hops
                failure = ProviderError(f"{self.provider}: {exc.message}", permanent=exc.permanent)
                if exc.permanent:
                    raise failure from None
                delay = self.backoff(attempt)
            except requests.exceptions.RequestException as exc:
                self._raise_if_cut()
                raise ProviderError(f"{self.provider}: request failed: {exc}") from exc
            else:
                if response.status_code in ok_set:
                    return response
                if stream:
                    self._read_body(response, MAX_ERROR_BODY, truncate=True)
                hooked = self.error_hook(response) if self.error_hook and use_hook else None
                if hooked is not None:
                    raise hooked
                failure = map_status(response, self.provider)
                if response.status_code not in RETRYABLE_STATUSES:
                    raise failure
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                delay = retry_after if retry_after is not None else self.backoff(attempt)
            if attempt >= self.max_retries:
                raise failure
            log.info(
                "%s: retrying %s %s in %.2fs after: %s",
                self.provider,
                method,
                _short(url),
                delay,
                self.redact(failure.message),
            )
            self._sleep_before_retry(delay, failure)
            attempt += 1

    def _send(
        self, method: str, url: str, *, stream: bool, send_auth: bool, **kwargs: Any
    ) -> requests.Response:
        """One request through the guard, following redirects of GET/HEAD by hand.

        Each hop's URL is checked and gets the credentials only if the guard says so; a
        redirect of any other method is returned as is (and fails as a 3xx).
        """
        extra = dict(kwargs.pop("headers", None) or {})
        hops = 0
        while True:
            self.guard.check_url(url)
            headers = {**(self.auth_headers if send_auth else {}), **extra}
            headers = self.guard.strip_credentials(headers, url, self.auth_headers)
            response = self.session.request(
                method,
                url,
                headers=headers,
                stream=True,
                timeout=self._timeout(),
                allow_redirects=False,
                **kwargs,
            )
            if (
                response.status_code not in REDIRECT_STATUSES
                or method not in ("GET", "HEAD")
                or not response.headers.get("Location")
            ):
                if not stream:
                    self._read_body(response, self.max_response_bytes)
                return response
            location = response.headers["Location"]
            response.close()
            if hops >= MAX_REDIRECTS:
                raise ProviderError(
                    f"more than {MAX_REDIRECTS} redirects from {short_url(url)}", permanent=True
                )
            url = urljoin(url, location)
            kwargs.pop("params", None)  # the Location is the whole next URL
            hops += 1
            self.deadline.check(f"following a redirect to {short_url(url)}")

    def _raise_if_cut(self) -> None:
        """A transfer the deadline watchdog cut off is a timeout, not a network failure."""
        if self.guard.cut:
            raise GenerationTimeout(
                f"{self.provider}: the {self.deadline.budget_s:g}s deadline "
                "passed while the provider was still answering"
            )

    def _read_body(
        self, response: requests.Response, limit: int, *, truncate: bool = False
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
                self.deadline.check(f"reading the answer from {short_url(response.url)}")
        except requests.exceptions.RequestException:
            if not (truncate and chunks):
                raise
        response._content = b"".join(chunks)[:limit]
        response._content_consumed = True
        response.close()

    def redact(self, message: str) -> str:
        """`message` without this provider's key (or any credential header) and truncated."""
        return redact(message, self.secrets)[:MAX_STORED_ERROR]

    def get_json(self, url: str, **kwargs: Any) -> Any:
        return json_body(self.request("GET", url, **kwargs), self.provider)

    def post_json(self, url: str, body: Any, **kwargs: Any) -> Any:
        return json_body(self.request("POST", url, json=body, **kwargs), self.provider)

    # ------------------------------------------------------------------ downloads
    def download(
        self,
        url: str,
        *,
        max_bytes: int,
        allowed_types: Iterable[str],
        headers: Mapping[str, str] | None = None,
        send_auth: bool = False,
    ) -> Downloaded:
        """Fetch a result URL, streaming and aborting past `max_bytes`, checking the type.

        Result URLs are usually signed CDN links on another host, so the auth headers are
        sent only with `send_auth` (e.g. an API's own /content endpoint), and then only to
        the base origin.
        """
        allowed = tuple(allowed_types)
        response = self.request(
            "GET",
            url,
            headers=dict(headers or {}),
            stream=True,
            ok=(200, *EXPIRED_URL_STATUSES),
            use_hook=False,
            send_auth=send_auth,
        )
        if response.status_code in EXPIRED_URL_STATUSES:
            self._read_body(response, MAX_ERROR_BODY, truncate=True)
            text = error_text(response)
            response.close()
            raise ProviderError(
                f"{self.provider}: result URL expired or gone (HTTP {response.status_code}: "
                f"{text}); results must be downloaded as soon as the job is ready"
            )
        with response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ProviderError(
                    f"{self.provider}: result is {declared} bytes, over the {max_bytes} limit",
                    permanent=True,
                )
            chunks: list[bytes] = []
            total = 0
            try:
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    total += len(chunk)
                    if total > max_bytes:
                        raise ProviderError(
                            f"{self.provider}: result exceeded the {max_bytes} byte limit",
                            permanent=True,
                        )
                    chunks.append(chunk)
                    if self.deadline.expired():
                        raise GenerationTimeout(
                            f"{self.provider}: deadline passed while downloading the result"
                        )
            except requests.exceptions.RequestException as exc:
                self._raise_if_cut()
                raise ProviderError(f"{self.provider}: download interrupted: {exc}") from exc
            data = b"".join(chunks)
        declared_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        ctype = declared_type.lower()
        if not ctype or ctype in ("application/octet-stream", "binary/octet-stream"):
            ctype = sniff_content_type(data) or ctype
        if not type_allowed(ctype, allowed):
            raise ProviderError(
                f"{self.provider}: result has content type {declared_type or 'none'!r}, "
                f"expected one of {', '.join(allowed)}",
                permanent=True,
            )
        return Downloaded(data=data, content_type=ctype)

    # ------------------------------------------------------------------ polling
    def poll(
        self,
        check: Callable[[], T | None],
        *,
        what: str = "job",
        interval_s: float | None = None,
        max_interval_s: float | None = None,
        factor: float = 1.5,
    ) -> T:
        """Call `check` until it returns a value; sleep interval·1.5ⁿ (capped) in between.

        `check` returns None while the job is pending and raises a GeneratorError on failure.
        """
        opts = self.config.options
        interval = as_float(
            interval_s if interval_s is not None else opts.get("poll_interval_s", 1.0)
        )
        cap = as_float(
            max_interval_s if max_interval_s is not None else opts.get("poll_max_interval_s", 5.0)
        )
        polls = 0
        self.deadline.check(f"polling {what}")
        while True:
            result = check()
            polls += 1
            if result is not None:
                return result
            remaining = self.deadline.remaining()
            if remaining <= 0:
                break
            sleep(min(interval, remaining))
            interval = min(cap, interval * factor)
            if self.deadline.expired():
                break
        raise GenerationTimeout(
            f"{self.provider}: {what} not finished within the {self.deadline.budget_s:g}s "
            f"deadline ({polls} polls)"
        )


def _short(url: str) -> str:
    return url.split("?", 1)[0]
