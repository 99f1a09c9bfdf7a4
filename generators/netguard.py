"""The outbound-fetch guard behind `generators.http`: which URLs a provider may make us fetch.

A provider (hostile, compromised or just buggy) hands us URLs: results, polling endpoints,
redirects. Each of them is checked here before a byte is sent:

- only http and https;
- the provider's configured base origin (scheme, host, port) may be anything, private
  included, since an operator chose it (an in-house server, a fake on 127.0.0.1 in tests);
- every other origin must resolve to public addresses only: loopback, private, link-local
  (169.254.169.254, the cloud metadata address), shared, multicast, reserved and unspecified
  addresses are refused, also when wrapped in IPv6 (IPv4-mapped, 6to4, NAT64), and so is the
  name `localhost`;
- the check is made again when the socket is opened, on the addresses actually connected to
  (`GuardedAdapter`), so a name that resolves to a public address for the check and to a private
  one a moment later (DNS rebinding) still cannot reach the inside.

Credentials (the provider's auth headers) go only to the base origin, and to the provider's
own domains where a provider needs them there (BFL's regional polling hosts); `strip_credentials`
drops them everywhere else. `redact` scrubs key values and credential-looking headers out of
error texts before they are stored for operators.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import re
import socket
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as u3connection

from generators.base import ProviderError

# host, port -> the addresses it resolves to (strings). Tests inject a stub.
Resolver = Callable[[str, int], list[str]]

DEFAULT_PORTS = {"http": 80, "https": 443}
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
# Header names that carry a credential in some provider's scheme; never sent off-origin.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-key",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
        "x-auth-token",
        "x-access-token",
    }
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MIN_SECRET_LEN = 6
REDACTED = "[redacted]"
# What a URL's authority may look like: a plain ASCII name or address, or a bracketed IPv6
# literal, and a port. Anything else (a backslash, a percent sign, non-ASCII letters, "@") is
# read differently by urllib.parse, which the guard uses, and by urllib3, which connects: the
# guard would check (and hand the key to) one host while the request went to another.
_AUTHORITY = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?"
    r"|\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9._~-]+)?\])(?::[0-9]*)?"
)
# Control characters: urllib.parse silently drops tabs and newlines that urllib3 keeps.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UnsafeURL(ProviderError):
    """A URL the guard refuses to fetch. Permanent: asking again gets the same answer."""

    code = "unsafe_url"
    permanent = True


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (what the socket layer would try)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Origin:
    """scheme://host:port, normalised (lower case, default port filled in)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        parts = _split(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".").lower()
        try:
            port = parts.port
        except ValueError:
            raise UnsafeURL(f"URL has an invalid port: {short_url(url)}") from None
        return cls(scheme, host, port or DEFAULT_PORTS.get(scheme, 0))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def public_address(address: str) -> bool:
    """True only for a globally routable unicast address (IPv6 wrappers of IPv4 unwrapped)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is None and ip.teredo:
            embedded = ip.teredo[1]
        if embedded is not None and not public_address(str(embedded)):
            return False
        if ip.is_site_local:  # fec0::/10: deprecated, but still private wherever it is used
            return False
    return bool(
        ip.is_global
        and not (
            ip.is_multicast
            or ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_reserved
            or ip.is_unspecified
        )
    )


class FetchGuard:
    """Decides, for one provider, which URLs may be fetched and which get its credentials."""

    def __init__(
        self,
        base_url: str,
        *,
        credential_domains: Iterable[str] = (),
        private_origins: Iterable[str] = (),
        resolver: Resolver | None = None,
        address_allowed: Callable[[str], bool] = public_address,
    ) -> None:
        """`private_origins`: further origins an operator configured as in-house (e.g. the
        object store a self-hosted server links to); they may be private but never get the
        credentials. `resolver` and `address_allowed` are seams for tests (a stub DNS, a second
        loopback address standing in for a public host); production uses the defaults."""
        self.base = Origin.of(base_url) if base_url else None
        self.private_origins = frozenset(Origin.of(u) for u in private_origins if u)
        self.credential_domains = tuple(d.lower().strip(".") for d in credential_domains if d)
        self.resolver: Resolver = resolver or system_resolver
        self.address_allowed = address_allowed
        # every socket opened through this guard, so a deadline can cut them (`cut_all`)
        self.sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self.cut = False

    def cut_all(self) -> None:
        """Shut down every socket this guard opened: a read blocked on a server that sends a
        byte now and then (never enough for the read timeout to fire) ends at once."""
        self.cut = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def opened(self, sock: socket.socket) -> socket.socket:
        self.sockets.add(sock)
        if self.cut:  # opened after the deadline passed
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return sock

    # ------------------------------------------------------------------ policy
    def is_base(self, origin: Origin) -> bool:
        return self.base is not None and origin == self.base

    def may_be_private(self, origin: Origin) -> bool:
        return self.is_base(origin) or origin in self.private_origins

    def gets_credentials(self, url: str) -> bool:
        """The base origin, or an https origin inside one of the provider's own domains."""
        if not _plain_url(url):
            return False
        origin = Origin.of(url)
        if self.is_base(origin):
            return True
        return origin.scheme == "https" and any(
            origin.host == d or origin.host.endswith("." + d) for d in self.credential_domains
        )

    def check_url(self, url: str) -> Origin:
        """Raise `UnsafeURL` unless `url` may be fetched; returns its origin."""
        parts = _split(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise UnsafeURL(
                f"refused to fetch a {scheme or 'scheme-less'} URL "
                f"({short_url(url)}): only http and https are allowed"
            )
        if _CONTROL.search(url.strip()):
            raise UnsafeURL(
                f"refused to fetch a URL with control characters in it: {short_url(url)!r}"
            )
        origin = Origin.of(url)
        if not origin.host:
            raise UnsafeURL(f"refused to fetch a URL without a host: {short_url(url)}")
        if parts.username is not None or parts.password is not None:
            raise UnsafeURL(f"refused to fetch a URL with user credentials in it: {origin}")
        if not _plain_url(url):
            raise UnsafeURL(
                f"refused to fetch a URL whose host is not a plain ASCII name or "
                f"address (use the punycode form): {short_url(url)!r}"
            )
        if self.may_be_private(origin):
            return origin
        self.public_addresses(origin.host, origin.port)
        return origin

    def public_addresses(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to, all public, or `UnsafeURL`."""
        host = host.strip("[]").rstrip(".").lower()
        if host in LOCAL_NAMES or host.endswith(".localhost"):
            raise UnsafeURL(f"refused to fetch from {host}: a local name")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise ProviderError(f"could not resolve {host}: {exc}") from exc
        if not addresses:
            raise ProviderError(f"could not resolve {host}: no addresses")
        private = [a for a in addresses if not self.address_allowed(a)]
        if private:
            raise UnsafeURL(
                f"refused to fetch from {host}: it resolves to a non-public "
                f"address ({', '.join(private[:3])})"
            )
        return addresses

    def strip_credentials(
        self, headers: Mapping[str, str], url: str, extra_names: Iterable[str] = ()
    ) -> dict[str, str]:
        """`headers` without any credential unless `url` may receive the provider's key."""
        if self.gets_credentials(url):
            return dict(headers)
        names = CREDENTIAL_HEADERS | {n.lower() for n in extra_names}
        return {k: v for k, v in headers.items() if k.lower() not in names}

    # ------------------------------------------------------------------ transport
    def adapter(self, **kwargs: Any) -> GuardedAdapter:
        return GuardedAdapter(self, **kwargs)


class _GuardedConnectionMixin:
    """Opens the socket only to addresses the guard allows, and checks the peer once open."""

    guard: FetchGuard
    scheme: str
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        origin = Origin(self.scheme, self.host.strip("[]").rstrip(".").lower(), self.port)
        if self.guard.may_be_private(origin):
            return self.guard.opened(super()._new_conn())  # type: ignore[misc]  # mixin: the base is HTTPConnection
        addresses = self.guard.public_addresses(origin.host, origin.port)
        last: OSError | None = None
        for address in addresses:
            try:
                sock = u3connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                last = exc
                continue
            peer = str(sock.getpeername()[0])
            if not self.guard.address_allowed(peer):
                sock.close()
                raise UnsafeURL(
                    f"refused to talk to {self.host}: connected to a non-public address ({peer})"
                )
            return self.guard.opened(sock)
        raise NewConnectionError(
            self,  # type: ignore[arg-type]  # this mixin is only ever mixed into HTTPConnection
            f"Failed to establish a new connection: {last}",
        )


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    scheme = "http"


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    scheme = "https"


class GuardedAdapter(HTTPAdapter):
    """A requests transport whose connections go only where the guard allows."""

    def __init__(self, guard: FetchGuard, **kwargs: Any) -> None:
        self.guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        guard = self.guard
        http_conn = type("GuardedHTTPConnection", (_GuardedHTTPConnection,), {"guard": guard})
        https_conn = type("GuardedHTTPSConnection", (_GuardedHTTPSConnection,), {"guard": guard})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type(
                "GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
            ),
        }

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        raise UnsafeURL(
            "provider fetches do not go through proxies (the guard checks the "
            "address it connects to)"
        )


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        raise UnsafeURL(f"refused to fetch a malformed URL: {short_url(url)!r}") from None


def _plain_url(url: str) -> bool:
    """Whether `url`'s authority is one that every URL parser splits the same way."""
    try:
        return _AUTHORITY.fullmatch(_split(url.strip()).netloc) is not None
    except UnsafeURL:
        return False


# ---------------------------------------------------------------------- error texts
_HEADER_VALUE = re.compile(
    r"(?i)\b("
    + "|".join(re.escape(n) for n in sorted(CREDENTIAL_HEADERS, key=len, reverse=True))
    + r")(\\?[\"']?\s*[:=]\s*\\?[\"']?)((?:bearer|basic|key|token)\s+)?[^\s\"',;}\\]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def encoded_forms(secret: str) -> set[str]:
    """`secret` as an error body may echo it: as is, percent-encoded, and in base64 (standard
    and URL-safe, at each of the three offsets it can start at inside a longer encoded text,
    e.g. "user:key" in a Basic header), keeping only the characters that depend on it alone."""
    forms = {secret, quote(secret, safe="")}
    raw = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        whole_groups = (shift + len(raw)) // 3
        fragment = encoded[4 if shift else 0 : whole_groups * 4].rstrip("=")
        if len(fragment) >= 8:
            forms |= {fragment, fragment.replace("+", "-").replace("/", "_")}
    return forms


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret value and every credential header's value replaced."""
    forms = {f for s in secrets if s and len(s) >= MIN_SECRET_LEN for f in encoded_forms(s)}
    for secret in sorted(forms, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _HEADER_VALUE.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}", text
    )
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def short_url(url: str) -> str:
    """A URL without its query string (signed URLs carry tokens there)."""
    return url.split("?", 1)[0].split("#", 1)[0][:300]
