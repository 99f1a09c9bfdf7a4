"""generators.http: retries, backoff, Retry-After, deadlines, error mapping, downloads, polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from generators import http as http_mod
from generators.base import (
    BadConfiguration,
    GenerationTimeout,
    ProviderError,
    RateLimited,
)
from generators.http import Deadline, HttpClient, parse_retry_after, sniff_content_type
from tests.fakes import FakeProviderServer, ProviderFake, Recorded, Reply, mp4_bytes, png_bytes
from tests.fakes.testing import make_config

Serve = Callable[[ProviderFake], FakeProviderServer]


class EchoFake(ProviderFake):
    """POST /echo answers 200 {"ok": true}; GET /slow sleeps `delay_s` before answering."""

    name = "echo"

    def route_of(self, req: Recorded) -> str:
        return "submit" if req.path == "/echo" else "poll"

    def handle(self, req: Recorded) -> Reply:
        if req.path == "/slow":
            return Reply(200, {"ok": True}, delay_s=self.delay_s)
        return Reply(200, {"ok": True, "n": len(self.requests)})


@pytest.fixture
def echo(serve: Serve) -> tuple[EchoFake, FakeProviderServer]:
    fake = EchoFake()
    return fake, serve(fake)


def client(base: str, *, deadline_s: float = 5.0, **kw: object) -> HttpClient:
    cfg = make_config("echo", base, **kw)  # type: ignore[arg-type]
    return HttpClient(cfg, Deadline(deadline_s), headers={"Authorization": "Bearer test-key"})


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    when = datetime.now(UTC) + timedelta(seconds=30)
    got = parse_retry_after(format_datetime(when, usegmt=True))
    assert got is not None and 28 <= got <= 31
    past = datetime.now(UTC) - timedelta(seconds=30)
    assert parse_retry_after(format_datetime(past, usegmt=True)) == 0.0


def test_500_then_success_is_retried(echo: tuple[EchoFake, FakeProviderServer]) -> None:
    fake, server = echo
    fake.fail_next(500, times=2)
    with client(server.base_url) as http:
        body = http.post_json(server.base_url + "/echo", {"x": 1})
    assert body["ok"] is True
    assert len(fake.of_route("submit")) == 3


def test_persistent_500_gives_provider_error_with_text(
    echo: tuple[EchoFake, FakeProviderServer],
) -> None:
    fake, server = echo
    fake.fail_next(500, times=10, message="upstream exploded")
    with client(server.base_url, max_retries=2) as http, pytest.raises(ProviderError) as err:
        http.post_json(server.base_url + "/echo", {})
    assert "upstream exploded" in err.value.message and "HTTP 500" in err.value.message
    assert err.value.permanent is False
    assert len(fake.of_route("submit")) == 3  # 1 + 2 retries


def test_429_honours_retry_after(
    echo: tuple[EchoFake, FakeProviderServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, server = echo
    fake.fail_next(429, retry_after="0.2")
    slept: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(http_mod, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    with client(server.base_url) as http:
        assert http.post_json(server.base_url + "/echo", {})["ok"]
    assert slept == [0.2]


def test_429_exhausted_raises_rate_limited_with_retry_after(
    echo: tuple[EchoFake, FakeProviderServer],
) -> None:
    fake, server = echo
    fake.fail_next(429, times=5, retry_after="0.01")
    with client(server.base_url, max_retries=1) as http, pytest.raises(RateLimited) as err:
        http.post_json(server.base_url + "/echo", {})
    assert err.value.retry_after == 0.01


def test_retry_after_beyond_deadline_gives_up_at_once(
    echo: tuple[EchoFake, FakeProviderServer],
) -> None:
    fake, server = echo
    fake.fail_next(429, retry_after="30")
    started = time.monotonic()
    with client(server.base_url, deadline_s=2.0) as http, pytest.raises(RateLimited) as err:
        http.post_json(server.base_url + "/echo", {})
    assert time.monotonic() - started < 1.0
    assert err.value.retry_after == 30.0


def test_backoff_is_exponential_with_jitter_and_capped(
    echo: tuple[EchoFake, FakeProviderServer],
) -> None:
    _, server = echo
    http = client(server.base_url, retry_backoff_s=1.0, retry_backoff_max_s=8.0)
    for attempt, base in enumerate([1, 2, 4, 8, 8]):
        for _ in range(20):
            assert base * 0.5 <= http.backoff(attempt) <= base
    http.close()


def test_401_is_bad_configuration_and_not_retried(
    echo: tuple[EchoFake, FakeProviderServer],
) -> None:
    fake, server = echo
    fake.fail_next(401, times=5)
    with client(server.base_url) as http, pytest.raises(BadConfiguration):
        http.post_json(server.base_url + "/echo", {})
    assert len(fake.of_route("submit")) == 1


def test_400_is_permanent_provider_error(echo: tuple[EchoFake, FakeProviderServer]) -> None:
    fake, server = echo
    fake.fail_next(400, message="size must be one of ...")
    with client(server.base_url) as http, pytest.raises(ProviderError) as err:
        http.post_json(server.base_url + "/echo", {})
    assert err.value.permanent is True and "size must be one of" in err.value.message


def test_read_timeout_on_post_is_not_retried(echo: tuple[EchoFake, FakeProviderServer]) -> None:
    fake, server = echo
    fake.delay_s = 0.5
    with client(server.base_url, timeout_s=0.1) as http, pytest.raises(GenerationTimeout):
        http.post_json(server.base_url + "/echo", {})
    assert len(fake.of_route("submit")) == 1


def test_read_timeout_on_get_is_retried_then_times_out(
    echo: tuple[EchoFake, FakeProviderServer],
) -> None:
    fake, server = echo
    fake.delay_s = 0.4
    with (
        client(server.base_url, timeout_s=0.1, max_retries=2) as http,
        pytest.raises(GenerationTimeout),
    ):
        http.get_json(server.base_url + "/slow")
    assert len(fake.of_route("poll")) == 3


def test_deadline_bounds_a_slow_call(echo: tuple[EchoFake, FakeProviderServer]) -> None:
    fake, server = echo
    fake.delay_s = 2.0
    started = time.monotonic()
    with (
        client(server.base_url, deadline_s=0.3, timeout_s=30) as http,
        pytest.raises(GenerationTimeout),
    ):
        http.get_json(server.base_url + "/slow")
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_retried_then_provider_error() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with (
        client(f"http://127.0.0.1:{port}", max_retries=2) as http,
        pytest.raises(ProviderError, match="connection error"),
    ):
        http.get_json(f"http://127.0.0.1:{port}/x")


# ---------------------------------------------------------------------- downloads
def test_download_checks_size_limit(echo: tuple[EchoFake, FakeProviderServer]) -> None:
    fake, server = echo
    url = fake.add_file(png_bytes(256, 256), "image/png")
    size = len(png_bytes(256, 256))
    with client(server.base_url) as http:
        assert http.download(url, max_bytes=size, allowed_types=["image/"]).data == png_bytes(
            256, 256
        )
        with pytest.raises(ProviderError, match="limit"):
            http.download(url, max_bytes=size - 1, allowed_types=["image/"])


def test_download_aborts_stream_without_content_length(
    echo: tuple[EchoFake, FakeProviderServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, server = echo
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * 300_000
    url = fake.add_file(big, "image/png")
    # hide Content-Length so only the streaming check can stop it
    import requests.structures

    orig = requests.adapters.HTTPAdapter.build_response

    def build(self, req, resp):  # type: ignore[no-untyped-def]
        r = orig(self, req, resp)
        r.headers = requests.structures.CaseInsensitiveDict(
            {k: v for k, v in r.headers.items() if k.lower() != "content-length"}
        )
        return r

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "build_response", build)
    with client(server.base_url) as http, pytest.raises(ProviderError, match="exceeded"):
        http.download(url, max_bytes=100_000, allowed_types=["image/"])


def test_download_checks_content_type(echo: tuple[EchoFake, FakeProviderServer]) -> None:
    fake, server = echo
    html = fake.add_file(b"<html>login</html>", "text/html")
    octet_png = fake.add_file(png_bytes(), "application/octet-stream")
    mp4 = fake.add_file(mp4_bytes(), "video/mp4")
    with client(server.base_url) as http:
        with pytest.raises(ProviderError, match="content type 'text/html'"):
            http.download(html, max_bytes=10_000, allowed_types=["image/"])
        got = http.download(octet_png, max_bytes=10_000, allowed_types=["image/png"])
        assert got.content_type == "image/png"
        assert (
            http.download(mp4, max_bytes=10_000, allowed_types=["video/"]).content_type
            == "video/mp4"
        )


@pytest.mark.parametrize("status", [403, 404, 410])
def test_expired_result_url_is_clear_error(
    echo: tuple[EchoFake, FakeProviderServer], status: int
) -> None:
    fake, server = echo
    url = fake.add_file(png_bytes(), "image/png")
    fake.expired, fake.expired_status = True, status
    with client(server.base_url) as http, pytest.raises(ProviderError, match="expired"):
        http.download(url, max_bytes=10_000, allowed_types=["image/"])


def test_download_does_not_leak_api_key_to_result_host(
    echo: tuple[EchoFake, FakeProviderServer],
) -> None:
    fake, server = echo
    url = fake.add_file(png_bytes(), "image/png")
    with client(server.base_url) as http:
        http.download(url, max_bytes=10_000, allowed_types=["image/"])
        http.download(url, max_bytes=10_000, allowed_types=["image/"], send_auth=True)
    files = fake.of_route("file")
    assert files[0].header("authorization") is None
    assert files[1].header("authorization") == "Bearer test-key"


def test_download_retries_5xx(echo: tuple[EchoFake, FakeProviderServer]) -> None:
    fake, server = echo
    url = fake.add_file(png_bytes(), "image/png")
    fake.fail_next(503, route="file")
    with client(server.base_url) as http:
        assert http.download(url, max_bytes=10_000, allowed_types=["image/"]).data == png_bytes()


def test_sniff_content_type() -> None:
    assert sniff_content_type(png_bytes()) == "image/png"
    assert sniff_content_type(mp4_bytes()) == "video/mp4"
    assert sniff_content_type(b"\xff\xd8\xff\xe0....") == "image/jpeg"
    assert sniff_content_type(b"hello") is None


# ---------------------------------------------------------------------- polling
def test_poll_backs_off_by_1_5_to_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(http_mod, "sleep", slept.append)
    calls = iter([None] * 6 + ["done"])
    http = HttpClient(make_config("x", "http://127.0.0.1:9"), Deadline(60))
    assert http.poll(lambda: next(calls), interval_s=1.0, max_interval_s=3.0) == "done"
    assert slept == [1.0, 1.5, 2.25, 3.0, 3.0, 3.0]
    http.close()


def test_poll_is_bounded_by_deadline() -> None:
    http = HttpClient(make_config("x", "http://127.0.0.1:9"), Deadline(0.3))
    started = time.monotonic()
    with pytest.raises(GenerationTimeout, match="not finished"):
        http.poll(lambda: None, interval_s=0.05, max_interval_s=0.1)
    assert time.monotonic() - started < 0.6
    http.close()
