"""The outbound-fetch guard: a hostile provider cannot make us fetch inside our network, leak
its key elsewhere, or get its error bodies (with our key or headers in them) stored verbatim.

The fakes run on 127.0.0.1, which is the providers' configured base origin and so allowed; a
"foreign" origin is a second fake on another port (private, so refused) or on 127.0.0.2, which
the tests that need an allowed foreign host declare public through the guard's seam.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from generators.base import ProviderError, get_generator
from generators.bfl import BFLGenerator
from generators.http import Deadline, HttpClient
from generators.netguard import FetchGuard, UnsafeURL, public_address, redact
from tests.fakes import (
    BFLFake,
    FakeProviderServer,
    ProviderFake,
    Recorded,
    ReplicateFake,
    Reply,
    png_bytes,
)
from tests.fakes.testing import make_config, make_request

Serve = Callable[[ProviderFake], FakeProviderServer]
STAND_IN = "127.0.0.2"  # plays a public host in the tests that need one


def stand_in_public(address: str) -> bool:
    return address == STAND_IN or public_address(address)


class FilesFake(ProviderFake):
    """Serves files (and scripted redirects) only; records every request."""

    name = "files"

    def handle(self, req: Recorded) -> Reply:
        return Reply(404, {"detail": "not found"})


@pytest.fixture
def foreign() -> Iterator[FakeProviderServer]:
    """A fake on 127.0.0.2: a different origin the stand-in policy treats as public."""
    server = FakeProviderServer(FilesFake(), host=STAND_IN).start()
    yield server
    server.stop()


def guarded_client(base: str, headers: dict[str, str], **guard_kw: object) -> HttpClient:
    cfg = make_config("bfl", base, max_retries=0)
    guard = FetchGuard(base, **guard_kw)  # type: ignore[arg-type]
    return HttpClient(cfg, Deadline(10), provider="test", headers=headers, guard=guard)


# ---------------------------------------------------------------------- the policy
@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x.png",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "data:image/png;base64,AAAA",
        "//example.com/x.png",
    ],
)
def test_only_http_and_https_urls_are_fetched(url: str) -> None:
    guard = FetchGuard("https://api.example.com", resolver=lambda h, p: ["93.184.216.34"])
    with pytest.raises(UnsafeURL, match="only http and https"):
        guard.check_url(url)


def test_a_file_url_from_a_provider_is_refused_by_the_client() -> None:
    with (
        guarded_client("http://127.0.0.1:9", {}) as http,
        pytest.raises(UnsafeURL, match="only http and https"),
    ):
        http.download("file:///etc/passwd", max_bytes=1000, allowed_types=["image/"])


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not public_address(address)
    guard = FetchGuard("https://api.example.com")
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeURL, match="non-public"):
        guard.check_url(f"http://{host}/latest/meta-data/")


@pytest.mark.parametrize("host", ["2852039166", "0xa9fea9fe", "0x7f.1", "0177.0.0.1"])
def test_numeric_spellings_of_inside_addresses_are_refused(host: str) -> None:
    """The system resolver reads these as 169.254.169.254 / 127.0.0.1 (inet_aton forms)."""
    with pytest.raises(UnsafeURL, match="non-public"):
        FetchGuard("https://api.example.com").check_url(f"http://{host}/latest/meta-data/")


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert public_address(address)


def test_names_are_allowed_only_when_every_address_is_public() -> None:
    dns = {
        "cdn.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
        "mixed.example.com": ["93.184.216.34", "10.0.0.5"],
        "meta.example.com": ["169.254.169.254"],
    }
    guard = FetchGuard("https://api.example.com", resolver=lambda host, port: dns[host])
    guard.check_url("https://cdn.example.com/out/1.png?sig=abc")
    for host in ("mixed.example.com", "meta.example.com"):
        with pytest.raises(UnsafeURL, match="non-public"):
            guard.check_url(f"https://{host}/x")


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost"])
def test_localhost_is_refused_without_asking_dns(host: str) -> None:
    def no_dns(name: str, port: int) -> list[str]:
        raise AssertionError("localhost must not be resolved")

    with pytest.raises(UnsafeURL, match="local name"):
        FetchGuard("https://api.example.com", resolver=no_dns).check_url(f"http://{host}:8080/")


def test_the_configured_base_origin_may_be_private_but_only_that_origin() -> None:
    guard = FetchGuard("http://10.0.0.7:8080/v1")
    guard.check_url("http://10.0.0.7:8080/v1/images?x=1")
    for url in ("http://10.0.0.7:8081/v1", "https://10.0.0.7:8080/v1", "http://10.0.0.8:8080/"):
        with pytest.raises(UnsafeURL):
            guard.check_url(url)


def test_urls_with_user_credentials_are_refused() -> None:
    with pytest.raises(UnsafeURL, match="user credentials"):
        FetchGuard("https://api.example.com", resolver=lambda h, p: ["93.184.216.34"]).check_url(
            "https://u:p@cdn.example.com/"
        )


def test_credentials_go_to_the_base_origin_and_the_providers_own_https_domains() -> None:
    guard = FetchGuard("https://api.bfl.ai", credential_domains=("bfl.ai",))
    assert guard.gets_credentials("https://api.bfl.ai/v1/get_result?id=1")
    assert guard.gets_credentials("https://api.eu1.bfl.ai/v1/get_result?id=1")
    assert not guard.gets_credentials("http://api.eu1.bfl.ai/v1/get_result")
    assert not guard.gets_credentials("https://evilbfl.ai/v1/get_result")
    assert not guard.gets_credentials("https://bfl.ai.evil.example/v1/get_result")
    assert BFLGenerator(make_config("bfl", "", api_key="k")).own_domains() == ("bfl.ai",)
    assert BFLGenerator(make_config("bfl", "http://127.0.0.1:9", api_key="k")).own_domains() == ()


# ---------------------------------------------------------------------- providers' URLs
def bfl_gen(base: str) -> BFLGenerator:
    gen = get_generator(make_config("bfl", base, max_retries=0))
    assert isinstance(gen, BFLGenerator)
    return gen


def test_a_result_url_at_the_metadata_address_is_refused(serve: Serve) -> None:
    fake = BFLFake()
    server = serve(fake)
    fake.sample_url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    started = time.monotonic()
    with pytest.raises(UnsafeURL, match="169.254.169.254") as err:
        bfl_gen(server.base_url).generate(make_request())
    assert err.value.code == "unsafe_url" and err.value.permanent
    assert time.monotonic() - started < 2  # refused, not tried until a timeout


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_result_url_on_another_local_server_is_refused_and_never_requested(
    serve: Serve, host: str
) -> None:
    fake, other = BFLFake(), FilesFake()
    server, other_server = serve(fake), serve(other)
    fake.sample_url = other.add_file(png_bytes(), "image/png").replace("127.0.0.1", host)
    with pytest.raises(UnsafeURL):
        bfl_gen(server.base_url).generate(make_request())
    assert other.requests == []
    assert other_server.port != server.port


def test_a_polling_url_into_the_network_is_refused_and_never_requested(serve: Serve) -> None:
    fake, other = ReplicateFake(), FilesFake()
    server, other_server = serve(fake), serve(other)
    fake.pending = 1
    fake.get_url = f"{other_server.base_url}/v1/predictions/x"
    gen = get_generator(
        make_config("replicate", server.base_url + "/v1", model_id="owner/model", max_retries=0)
    )
    with pytest.raises(UnsafeURL, match="non-public"):
        gen.generate(make_request())
    assert other.requests == []


def test_a_redirect_from_the_base_origin_to_a_private_origin_is_refused(serve: Serve) -> None:
    fake, other = BFLFake(), FilesFake()
    server, _ = serve(fake), serve(other)
    target = other.add_file(png_bytes(), "image/png")
    fake.redirects["/go"] = target
    fake.sample_url = server.base_url + "/go"
    with pytest.raises(UnsafeURL):
        bfl_gen(server.base_url).generate(make_request())
    assert [r.path for r in fake.requests if r.path == "/go"] == ["/go"]
    assert other.requests == []


def test_an_operator_can_name_further_in_house_origins_which_never_get_the_key(
    serve: Serve,
) -> None:
    fake, store = BFLFake(), FilesFake()
    server, store_server = serve(fake), serve(store)
    fake.sample_url = store.add_file(png_bytes(), "image/png")
    cfg = make_config(
        "bfl", server.base_url, max_retries=0, private_origins=[store_server.base_url + "/"]
    )
    result = get_generator(cfg).generate(make_request())
    assert result.data == png_bytes()
    assert store.requests[0].header("x-key") is None
    assert BFLGenerator.validate_config({"private_origins": "http://10.0.0.1"}) == [
        "options.private_origins must be a list of http(s) URLs (in-house servers the "
        "provider's results may link to)"
    ]


def test_a_redirect_within_the_base_origin_is_followed(serve: Serve) -> None:
    fake = BFLFake()
    server = serve(fake)
    fake.redirects["/go"] = fake.add_file(png_bytes(32, 16), "image/png")
    fake.sample_url = server.base_url + "/go"
    result = bfl_gen(server.base_url).generate(make_request())
    assert (result.used["width"], result.used["height"]) == (32, 16)


def test_redirect_loops_stop(serve: Serve) -> None:
    fake = FilesFake()
    server = serve(fake)
    fake.redirects["/a"] = "/a"
    with (
        guarded_client(server.base_url, {}) as http,
        pytest.raises(ProviderError, match="more than 5 redirects"),
    ):
        http.download(server.base_url + "/a", max_bytes=1000, allowed_types=["image/"])
    assert len(fake.requests) == 6


def test_dns_rebinding_between_check_and_connect_is_caught(serve: Serve) -> None:
    fake = FilesFake()
    serve(fake)
    url = fake.add_file(png_bytes(), "image/png").replace("127.0.0.1", "rebind.example.com")
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # public for the check, then inside
    with (
        guarded_client(
            "https://api.example.com", {}, resolver=lambda host, port: next(answers)
        ) as http,
        pytest.raises(UnsafeURL, match="non-public"),
    ):
        http.download(url, max_bytes=10_000, allowed_types=["image/"])
    assert fake.requests == []


# ---------------------------------------------------------------------- credentials
@pytest.mark.parametrize(
    "name", ["x-key", "x-api-key", "api-key", "x-goog-api-key", "Authorization", "X-Custom-Token"]
)
def test_key_headers_are_not_sent_after_a_cross_origin_redirect(
    serve: Serve, foreign: FakeProviderServer, name: str
) -> None:
    base = FilesFake()
    server = serve(base)
    target = foreign.fake.add_file(png_bytes(), "image/png")
    base.redirects["/content"] = target
    with guarded_client(
        server.base_url, {name: "secret-value-123"}, address_allowed=stand_in_public
    ) as http:
        got = http.download(
            server.base_url + "/content", max_bytes=10_000, allowed_types=["image/"], send_auth=True
        )
    assert got.data == png_bytes()
    assert base.requests[0].header(name) == "secret-value-123"
    (received,) = foreign.fake.requests
    assert received.header(name) is None
    assert "secret-value-123" not in str(received.headers)


def test_bfl_key_is_not_sent_to_a_polling_url_on_another_host(serve: Serve) -> None:
    fake, elsewhere = BFLFake(), BFLFake(api_key=None)
    server = serve(fake)
    hostile = FakeProviderServer(elsewhere, host=STAND_IN).start()
    try:
        elsewhere.jobs = fake.jobs  # the other host knows the job, as a hostile one could
        fake.polling_base = hostile.base_url
        gen = bfl_gen(server.base_url)
        guard = FetchGuard(gen.base_url, address_allowed=stand_in_public)
        with HttpClient(
            gen.config, Deadline(10), provider="bfl", headers=gen.auth_headers(), guard=guard
        ) as http:
            result = gen._generate(make_request(), http)
    finally:
        hostile.stop()
    assert result.data.startswith(b"\x89PNG")
    assert fake.last_submit.header("x-key") == "test-key"
    polls = elsewhere.of_route("poll")
    assert polls and all(r.header("x-key") is None for r in polls)
    assert all(r.header("x-key") is None for r in elsewhere.of_route("file"))


# ---------------------------------------------------------------------- error texts
SECRET = "sk-live-0123456789abcdef"


def test_an_error_body_echoing_the_key_and_headers_is_not_kept_verbatim(serve: Serve) -> None:
    fake = BFLFake(api_key=SECRET)
    server = serve(fake)
    echo = (
        f"upstream 502 for request with headers {{'x-key': '{SECRET}', "
        f"'Authorization': 'Bearer sk-other-9876543210zyx'}} " + "y" * 5000
    )
    fake.fail_next(500, message=echo)
    gen = get_generator(make_config("bfl", server.base_url, api_key=SECRET, max_retries=0))
    with pytest.raises(ProviderError) as err:
        gen.generate(make_request())
    message = err.value.message
    assert "HTTP 500" in message and "upstream 502" in message
    assert SECRET not in message and "sk-other-9876543210zyx" not in message
    assert SECRET not in str(err.value)
    assert len(message) <= 2000


def test_a_provider_message_built_from_a_reply_is_redacted(serve: Serve) -> None:
    fake = BFLFake(api_key=SECRET)
    server = serve(fake)
    fake.outcome = "error"
    original = fake.handle

    def handle(req):  # type: ignore[no-untyped-def]
        reply = original(req)
        if req.route == "poll" and isinstance(reply.body, dict):
            reply.body["details"] = {"request": {"headers": {"x-key": SECRET}}}
        return reply

    fake.handle = handle  # type: ignore[method-assign]
    gen = get_generator(make_config("bfl", server.base_url, api_key=SECRET, max_retries=0))
    with pytest.raises(ProviderError, match="Error") as err:
        gen.generate(make_request())
    assert SECRET not in err.value.message and "[redacted]" in err.value.message


def test_redact_scrubs_values_and_credential_headers() -> None:
    text = (
        '{"x-api-key": "abc123456789", "api-key":"zzz987654321"} Authorization: Bearer '
        "tok_0123456789 x-goog-api-key=AIzaSyA0123456789 and mykey-0123456789"
    )
    out = redact(text, ["mykey-0123456789"])
    for leaked in (
        "abc123456789",
        "zzz987654321",
        "tok_0123456789",
        "AIzaSyA0123456789",
        "mykey-0123456789",
    ):
        assert leaked not in out
    assert out.count("[redacted]") == 5


def test_the_check_an_operator_stores_carries_no_key(
    serve: Serve, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arena.battles.generation import contender_test_generate
    from arena.battles.models import Contender, Provider, ProviderCheck

    fake = BFLFake(api_key=SECRET)
    server = serve(fake)
    fake.fail_next(400, message=f"invalid body; you sent x-key: {SECRET} " + "z" * 3000)
    monkeypatch.setenv("ARENA_TEST_BFL_KEY", SECRET)
    provider = Provider.objects.create(
        name="Fake BFL", kind="bfl", base_url=server.base_url, api_key_env="ARENA_TEST_BFL_KEY"
    )
    contender = Contender.objects.create(
        name="flux", organization="BFL", provider=provider, model_id="flux-pro-1.1"
    )
    check, image, _, _ = contender_test_generate(contender=contender, prompt="a fox", deadline_s=5)
    stored = ProviderCheck.objects.get(pk=check.pk)
    assert not stored.ok and image == b""
    assert "invalid body" in stored.error and SECRET not in stored.error
    assert len(stored.error) <= 2000
