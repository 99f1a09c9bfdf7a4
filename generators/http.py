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

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urljoin

import requests

from generators.base import GenerationTimeout, GeneratorError, ProviderConfig, ProviderError
from generators.coerce import as_float, as_int
from generators.netguard import FetchGuard, UnsafeURL, redact, short_url
from generators.responses import (
    Deadline,
    Downloaded,
    error_text,
    json_body,
    map_status,
    parse_retry_after,
    read_body,
    read_result,
    result_type,
    sniff_content_type,
)

__all__ = [
    "Deadline",
    "Downloaded",
    "HttpClient",
    "error_text",
    "json_body",
    "parse_retry_after",
    "sniff_content_type",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 522, 524, 529})
EXPIRED_URL_STATUSES = frozenset({403, 404, 410})
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
        read_body(response, limit, self.deadline, truncate=truncate)

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
            try:
                data = read_result(response, max_bytes, self.deadline, self.provider)
            except requests.exceptions.RequestException as exc:
                self._raise_if_cut()
                raise ProviderError(f"{self.provider}: download interrupted: {exc}") from exc
        ctype = result_type(response, data, allowed, self.provider)
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
