"""Second round of attacks on the outbound-fetch guard, each of which got through the first one.

- A URL whose host urllib.parse (the guard) and urllib3 (the connection) read differently: a
  backslash or a percent sign in the authority made the guard hand BFL's key to whatever host
  came before the backslash, as long as the rest ended in ".bfl.ai".
- A body read whole (a polling answer, an error) had no size bound: a gzip bomb of a few hundred
  KB decoded to as many MB in the worker's memory.
- A provider echoing our key base64-encoded (a Basic header, a dump of the request) got it
  stored for operators.
"""

from __future__ import annotations

import base64
import gzip
import threading
import time
import tracemalloc
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from generators.base import GenerationTimeout, ProviderError, get_generator
from generators.http import Deadline, HttpClient
from generators.netguard import FetchGuard, UnsafeURL, public_address, redact
from tests.fakes import (
    BFLFake,
    FakeProviderServer,
    ProviderFake,
    Recorded,
    Reply,
    StabilityFake,
    png_bytes,
)
from tests.fakes.testing import make_config, make_request

Serve = Callable[[ProviderFake], FakeProviderServer]
PUBLIC = ["93.184.216.34"]


def bfl_guard() -> FetchGuard:
    return FetchGuard(
        "https://api.bfl.ai", credential_domains=("bfl.ai",), resolver=lambda host, port: PUBLIC
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\\.api.bfl.ai/v1/get_result?id=1",  # urllib3: host evil.example
        "https://evil.example%2f.api.bfl.ai/v1/get_result",  # percent-encoded slash
        "https://evil.example%23.api.bfl.ai/v1/get_result",  # percent-encoded "#"
        "https://evil.example\u3002api.bfl.ai/",  # ideographic full stop
        "https://ａｐｉ.bfl.ai/v1/get_result",  # fullwidth letters
        "https://api.bfl.ai\t.evil.example/",  # a tab urllib.parse drops
        "https://api.bfl.ai\r\n.evil.example/",
        "https://[api.bfl.ai]/",  # not an IPv6 literal
    ],
)
def test_a_host_the_url_parsers_disagree_on_is_refused_and_gets_no_key(url: str) -> None:
    guard = bfl_guard()
    assert not guard.gets_credentials(url)
    with pytest.raises(UnsafeURL):
        guard.check_url(url)
    assert guard.strip_credentials({"x-key": "k"}, url) == {}


@pytest.mark.parametrize(
    "url",
    [
        "https://api.eu1.bfl.ai/v1/get_result?id=1",
        "https://API.BFL.AI./v1/x",
        "https://api.bfl.ai:443/v1/x",
        "https://xn--bcher-kva.example/a.png",
        "https://cdn.example.com/a%20b.png?sig=a%2Fb",
        "https://[2606:4700::1111]:8443/x",
        "https://cdn.example.com/outputs/a b.png",
    ],
)
def test_ordinary_provider_urls_still_pass(url: str) -> None:
    guard = FetchGuard(
        "https://api.bfl.ai", credential_domains=("bfl.ai",), resolver=lambda host, port: PUBLIC
    )
    guard.check_url(url)


class BombFake(ProviderFake):
    """Answers every request with one gzip-encoded body (a bomb: tiny on the wire)."""

    name = "bomb"

    def __init__(self, decoded: bytes, content_type: str, status: int = 200) -> None:
        super().__init__(api_key=None)
        self.body = gzip.compress(decoded, 9)
        self.content_type = content_type
        self.status = status

    def dispatch(self, req: Recorded) -> Reply:
        self.requests.append(req)
        return Reply(
            self.status, self.body, {"Content-Encoding": "gzip", "Content-Type": self.content_type}
        )


def bomb_client(base: str, **options: object) -> HttpClient:
    return HttpClient(
        make_config("bfl", base, max_retries=0, **options), Deadline(20), provider="bfl"
    )


def test_a_gzip_bomb_in_a_json_answer_is_cut_at_the_limit(serve: Serve) -> None:
    decoded = b'{"status": "' + b"A" * (24 * 1024 * 1024) + b'"}'
    fake = BombFake(decoded, "application/json")
    server = serve(fake)
    assert len(fake.body) < 64 * 1024  # a few KB on the wire
    with (
        bomb_client(server.base_url, max_response_bytes=1024 * 1024) as http,
        pytest.raises(ProviderError, match="over the 1048576 byte limit") as err,
    ):
        http.get_json(server.base_url + "/v1/get_result?id=1")
    assert err.value.permanent
    assert err.value.message.count("bfl:") == 1


def test_the_default_limit_applies_without_options(serve: Serve) -> None:
    from generators import http as http_module

    fake = BombFake(b"[" + b"0," * (3 * 1024 * 1024) + b"0]", "application/json")
    server = serve(fake)
    with bomb_client(server.base_url) as http:
        assert http.max_response_bytes == http_module.MAX_RESPONSE_BYTES
        http.max_response_bytes = 4 * 1024 * 1024
        with pytest.raises(ProviderError, match="byte limit"):
            http.get_json(server.base_url + "/x")


def test_a_gzip_bomb_as_an_error_body_is_read_only_in_part(serve: Serve) -> None:
    fake = BombFake(b"E" * (48 * 1024 * 1024), "text/plain", status=400)
    server = serve(fake)
    tracemalloc.start()
    try:
        with bomb_client(server.base_url) as http, pytest.raises(ProviderError) as err:
            http.request("GET", server.base_url + "/x", stream=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "HTTP 400" in err.value.message and len(err.value.message) < 1000
    assert peak < 8 * 1024 * 1024, f"{peak} bytes held for an error message"


def test_a_gzip_bomb_as_a_result_file_counts_decoded_bytes(serve: Serve) -> None:
    """Held already (urllib3 decodes in bounded steps): pinned so it stays so."""
    fake = BombFake(png_bytes() + b"\0" * (40 * 1024 * 1024), "image/png")
    server = serve(fake)
    with (
        bomb_client(server.base_url) as http,
        pytest.raises(ProviderError, match="exceeded the 5000000 byte limit"),
    ):
        http.download(
            server.base_url + "/files/x.png", max_bytes=5_000_000, allowed_types=["image/"]
        )


SECRET = "sk-live-0123456789abcdef"


@pytest.mark.parametrize(
    "echo",
    [
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(f"user:{SECRET}".encode()).decode(),
        base64.b64encode(f"ab:{SECRET}:x".encode()).decode(),
        base64.urlsafe_b64encode(f"k={SECRET}".encode()).decode().rstrip("="),
    ],
)
def test_a_key_echoed_encoded_is_not_stored(serve: Serve, echo: str) -> None:
    fake = BFLFake(api_key=SECRET)
    server = serve(fake)
    fake.fail_next(400, message=f"bad request; we received credentials {echo} (decoded)")
    gen = get_generator(make_config("bfl", server.base_url, api_key=SECRET, max_retries=0))
    with pytest.raises(ProviderError) as err:
        gen.generate(make_request())
    message = err.value.message
    assert "bad request" in message and "[redacted]" in message
    for encoded in (
        base64.b64encode(SECRET.encode()).decode()[:-4],
        base64.b64encode(SECRET[3:].encode()).decode()[4:-4],
        SECRET[:-2],
    ):
        assert encoded[:12] not in message


def test_redacting_encoded_forms_leaves_other_text_alone() -> None:
    text = "job 1234 failed: upstream said c29tZXRoaW5nIGVsc2U= at 12:00"
    assert redact(text, [SECRET]) == text


def test_a_key_echoed_where_a_number_belongs_is_not_stored(serve: Serve) -> None:
    """An answer of an unexpected shape used to escape as a raw ValueError whose text (the
    provider's own string: here our key) was stored as the output's error."""
    fake = StabilityFake(api_key=SECRET)
    server = serve(fake)
    original = fake.handle

    def handle(req: Recorded) -> Reply:
        reply = original(req)
        if isinstance(reply.body, dict):
            reply.body["seed"] = f"your key {SECRET}"
        return reply

    fake.handle = handle  # type: ignore[method-assign]
    gen = get_generator(make_config("stability", server.base_url, api_key=SECRET, max_retries=0))
    with pytest.raises(ProviderError, match="unexpected answer") as err:
        gen.generate(make_request())
    assert SECRET not in str(err.value) and "[redacted]" in err.value.message
    assert err.value.permanent


class _Trickle(BaseHTTPRequestHandler):
    """Promises a large body and sends one byte every 0.2 s: each read is well inside the read
    timeout, so only the output's deadline can end the transfer."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", self.server.content_type)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100000):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("what", ["json", "download"])
def test_a_trickling_answer_ends_at_the_deadline(what: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    server.content_type = "application/json" if what == "json" else "image/png"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    started = time.monotonic()
    try:
        cfg = make_config("bfl", base, max_retries=0, timeout_s=5.0)
        with (
            HttpClient(cfg, Deadline(1.5), provider="bfl") as http,
            pytest.raises(GenerationTimeout, match="deadline"),
        ):
            if what == "json":
                http.get_json(base + "/v1/get_result?id=1")
            else:
                http.download(base + "/files/x.png", max_bytes=10**6, allowed_types=["image/"])
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 6  # the deadline plus its grace, not 100000 × 0.2 s


@pytest.mark.parametrize("address", ["fec0::1", "feff:ffff::1", "[fec0::a9fe:a9fe]"])
def test_site_local_ipv6_addresses_are_refused(address: str) -> None:
    """fec0::/10 (deprecated site-local) is still an inside address where it is used."""
    assert not public_address(address.strip("[]"))
    host = address if address.startswith("[") else f"[{address}]"
    with pytest.raises(UnsafeURL, match="non-public"):
        FetchGuard("https://api.example.com").check_url(f"http://{host}/")
