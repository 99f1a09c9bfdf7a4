"""Shared skeleton of every remote (HTTP API) provider kind.

`RemoteGenerator.generate` holds a per-provider concurrency slot, runs the provider-specific
`_generate` through an `HttpClient` bound to the output's deadline, then fills latency and cost
the same way for every provider.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import time
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from generators import concurrency
from generators.base import (
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    Generator,
    GeneratorError,
    ProviderConfig,
    ProviderError,
)
from generators.coerce import as_float
from generators.http import Deadline, Downloaded, HttpClient

MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_VIDEO_BYTES = 500 * 1024 * 1024
IMAGE_TYPES = ("image/",)
VIDEO_TYPES = ("video/",)


class RemoteGenerator(Generator):
    """A provider reached over HTTP. Subclasses implement `_generate` and the config hooks."""

    queue: ClassVar[str] = "remote"
    default_base_url: ClassVar[str] = ""
    default_model: ClassVar[str] = ""
    # options that must be present (and non-empty) for this kind
    required_options: ClassVar[tuple[str, ...]] = ()
    needs_api_key: ClassVar[bool] = True
    # The provider's own domains, whose https hosts may receive the key besides the base URL.
    provider_domains: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ProviderConfig) -> None:
        problems = self.validate_config(config)
        if problems:
            raise BadConfiguration("; ".join(problems))
        super().__init__(config)

    # ------------------------------------------------------------------ configuration
    @classmethod
    def validate_config(cls, config: ProviderConfig | Mapping[str, object]) -> list[str]:
        """Human-readable problems with `config` for this kind (empty list: usable).

        Given only an options mapping (an admin form validating a Provider row before the
        contender and the key are known), checks just what the options alone can tell.
        """
        partial = not isinstance(config, ProviderConfig)
        if not isinstance(config, ProviderConfig):
            config = ProviderConfig(kind=cls.kind, options=dict(config))
        problems: list[str] = []
        if not partial:
            if not (config.base_url or cls.default_base_url):
                problems.append(f"{cls.kind} needs a base URL")
            if cls.needs_api_key and not config.api_key and not config.options.get("no_auth"):
                problems.append(f"{cls.kind} needs an API key")
        if config.base_url and not config.base_url.startswith(("http://", "https://")):
            problems.append(f"{cls.kind} base URL must start with http:// or https://")
        for name in cls.required_options:
            if not config.options.get(name):
                problems.append(f"{cls.kind} needs options.{name}")
        problems.extend(cls.check_options(config, partial=partial))
        for name in (
            "poll_interval_s",
            "poll_max_interval_s",
            "retry_backoff_s",
            "slot_wait_s",
            "max_bytes",
            "max_response_bytes",
        ):
            value = config.options.get(name)
            if value is not None and not _is_number(value):
                problems.append(f"options.{name} must be a number")
        origins = config.options.get("private_origins")
        if origins is not None and (
            not isinstance(origins, list)
            or not all(
                isinstance(o, str) and o.startswith(("http://", "https://")) for o in origins
            )
        ):
            problems.append(
                "options.private_origins must be a list of http(s) URLs (in-house "
                "servers the provider's results may link to)"
            )
        if config.timeout_s <= 0 or config.connect_timeout_s <= 0:
            problems.append("timeouts must be positive")
        if config.max_retries < 0:
            problems.append("max_retries must be >= 0")
        return problems

    @classmethod
    def check_options(cls, config: ProviderConfig, *, partial: bool) -> list[str]:
        """Kind-specific checks; `partial` when model_id/base_url/key are not known yet."""
        return []

    @property
    def base_url(self) -> str:
        return (self.config.base_url or self.default_base_url).rstrip("/")

    @property
    def model(self) -> str:
        return self.config.model_id or self.default_model

    def opt(self, name: str, default: Any = None) -> Any:
        return self.config.options.get(name, default)

    def auth_headers(self) -> dict[str, str]:
        """Headers carrying the API key, in the provider's own scheme."""
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def own_domains(self) -> tuple[str, ...]:
        """Domains of `provider_domains` the configured base URL is inside: https URLs there
        may get the key (e.g. BFL's regional polling hosts); none for a custom base URL."""
        host = urlsplit(self.base_url).hostname or ""
        return tuple(d for d in self.provider_domains if host == d or host.endswith("." + d))

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        """Provider-specific reading of an error response (moderation, …) before the default."""
        return None

    def concurrency_key(self) -> str:
        """Slots are shared per provider account: same kind + endpoint (+ explicit key)."""
        explicit = self.opt("concurrency_key")
        return str(explicit) if explicit else f"{self.kind}|{self.base_url}"

    # ------------------------------------------------------------------ the call
    def generate(self, request: GenerationRequest) -> GenerationResult:
        if request.modality not in self.modalities:
            raise BadConfiguration(
                f"{self.kind} produces {'/'.join(self.modalities)}, not {request.modality}"
            )
        deadline = Deadline(request.deadline_s)
        wait = float(self.opt("slot_wait_s", request.deadline_s / 2))
        with concurrency.slot(
            self.concurrency_key(),
            self.config.max_concurrency,
            timeout_s=min(wait, deadline.remaining()),
            lease_s=request.deadline_s + concurrency.LEASE_MARGIN_S,
        ):
            deadline.check(f"{self.kind} could start")
            started = time.monotonic()
            headers = {} if self.opt("no_auth") else self.auth_headers()
            with HttpClient(
                self.config,
                deadline,
                provider=self.kind,
                headers=headers,
                error_hook=self.error_hook,
                base_url=self.base_url,
                credential_domains=self.own_domains(),
                private_origins=self.opt("private_origins") or (),
            ) as http:
                try:
                    result = self._generate(request, http)
                except GeneratorError as exc:
                    # stored for operators: never the key, a header, or a whole body
                    exc.message = http.redact(exc.message)
                    exc.args = (exc.message,)
                    raise
                except Exception as exc:  # an answer of an unexpected shape: its text may
                    # hold anything the provider put there, our key included
                    raise ProviderError(
                        http.redact(
                            f"{self.kind}: unexpected answer ({type(exc).__name__}: {exc})"
                        ),
                        permanent=True,
                    ) from None
            latency = time.monotonic() - started
        cost = (
            self.config.cost_per_output if self.config.cost_per_output is not None else result.cost
        )
        return dataclasses.replace(result, latency_s=latency, cost=cost)

    @abstractmethod
    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        """Talk to the provider; latency and configured cost are filled in by `generate`."""

    # ------------------------------------------------------------------ helpers
    def max_bytes(self, modality: str = "image") -> int:
        default = MAX_VIDEO_BYTES if modality == "video" else MAX_IMAGE_BYTES
        return int(self.opt("max_bytes", default))

    def download_image(self, http: HttpClient, url: str, **kwargs: Any) -> Downloaded:
        return http.download(
            url, max_bytes=self.max_bytes("image"), allowed_types=IMAGE_TYPES, **kwargs
        )

    def download_video(self, http: HttpClient, url: str, **kwargs: Any) -> Downloaded:
        return http.download(
            url, max_bytes=self.max_bytes("video"), allowed_types=VIDEO_TYPES, **kwargs
        )

    def usage_cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """Cost from reported token usage, when per-million token prices are configured."""
        pin = self.opt("cost_per_million_input_tokens")
        pout = self.opt("cost_per_million_output_tokens")
        if pin is None and pout is None:
            return None
        return (
            (input_tokens or 0) * float(pin or 0) + (output_tokens or 0) * float(pout or 0)
        ) / 1_000_000


def decode_b64(data: str, provider: str) -> bytes:
    """Base64 (optionally a data: URI) from a JSON response."""
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(f"{provider}: invalid base64 image data: {exc}") from exc


def image_info(data: bytes, provider: str) -> tuple[str, int, int]:
    """(content type, width, height) read from the bytes; refuses what is not an image."""
    from PIL import Image, UnidentifiedImageError

    try:  # the header only, and only the formats the arena decodes (never EPS/PS, TIFF, ...)
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP", "GIF"]) as img:
            fmt = (img.format or "").lower()
            width, height = img.size
    except Image.DecompressionBombError as exc:
        raise ProviderError(
            f"{provider}: returned an image over the pixel budget "
            f"(ARENA_IMAGE_MAX_PIXELS), refused before decoding: {exc}",
            permanent=True,
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ProviderError(f"{provider}: returned bytes are not a readable image: {exc}") from exc
    ctype = {"jpeg": "image/jpeg", "mpo": "image/jpeg"}.get(fmt, f"image/{fmt or 'png'}")
    return ctype, width, height


def image_result(
    data: bytes,
    provider: str,
    *,
    used: Mapping[str, object],
    mapped: dict[str, dict[str, object]],
    cost: float | None = None,
) -> GenerationResult:
    """A checked image result; width/height in `used` are the real pixel size of the bytes."""
    ctype, width, height = image_info(data, provider)
    return GenerationResult(
        content_type=ctype,
        data=data,
        used={**used, "width": width, "height": height},
        mapped=mapped,
        cost=cost,
    )


def dig(obj: Any, path: str) -> Any:
    """Follow a dotted path like "data.0.b64_json" through dicts and lists (None if absent)."""
    cur = obj
    for part in [p for p in path.split(".") if p]:
        if isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
        if cur is None:
            return None
    return cur


def _is_number(value: object) -> bool:
    try:
        as_float(value)
    except (TypeError, ValueError):
        return False
    return True
