"""Every remote provider kind against its fake for the scripted cases shared by all of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from generators.base import (
    REGISTRY,
    BadConfiguration,
    GenerationResult,
    GenerationTimeout,
    ModerationRefused,
    ProviderError,
    RateLimited,
    generator_class,
    get_generator,
)
from tests.fakes import (
    FakeProviderServer,
    ProviderFake,
)
from tests.fakes.cases import CASES
from tests.fakes.testing import make_config, make_request

Serve = Callable[[ProviderFake], FakeProviderServer]


KINDS = sorted(CASES)


def run(
    serve: Serve,
    kind: str,
    *,
    configure: Callable[[ProviderFake], None] | None = None,
    request: dict[str, Any] | None = None,
    **config: Any,
) -> tuple[ProviderFake, GenerationResult]:
    case = CASES[kind]
    fake = case.fake()
    if configure:
        configure(fake)
    server = serve(fake)
    options = {**case.options, **config.pop("options", {})}
    cfg = make_config(
        kind, server.base_url + case.suffix, model_id=case.model_id, **options, **config
    )
    result = get_generator(cfg).generate(make_request(**{**case.request, **(request or {})}))
    return fake, result


def test_every_kind_is_registered_and_remote() -> None:
    for kind in KINDS:
        assert kind in REGISTRY
        cls = generator_class(kind)
        assert cls.kind == kind and cls.queue == "remote"


@pytest.mark.parametrize("kind", KINDS)
def test_success(serve: Serve, kind: str) -> None:
    fake, result = run(serve, kind, cost_per_output=0.01)
    video = CASES[kind].request.get("modality") == "video"
    assert result.content_type == ("video/mp4" if video else "image/png")
    assert result.data[4:8] == b"ftyp" if video else result.data.startswith(b"\x89PNG")
    assert result.used.get("model")
    assert isinstance(result.used.get("width"), int) and isinstance(result.used.get("height"), int)
    assert "seed" in result.used
    assert result.latency_s > 0 and result.cost == 0.01
    header, value = CASES[kind].auth
    assert fake.last_submit.header(header) == value


@pytest.mark.parametrize("kind", KINDS)
def test_429_with_retry_after_then_success(serve: Serve, kind: str) -> None:
    fake, result = run(serve, kind, configure=lambda f: f.fail_next(429, retry_after="0.05"))
    assert result.data and len(fake.of_route("submit")) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_429_persistent_is_rate_limited(serve: Serve, kind: str) -> None:
    with pytest.raises(RateLimited) as err:
        run(
            serve,
            kind,
            max_retries=1,
            configure=lambda f: f.fail_next(429, times=5, retry_after="0.02"),
        )
    assert err.value.retry_after == 0.02 and not err.value.permanent


@pytest.mark.parametrize("kind", KINDS)
def test_500_then_success(serve: Serve, kind: str) -> None:
    fake, result = run(serve, kind, configure=lambda f: f.fail_next(500))
    assert result.data and len(fake.of_route("submit")) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_persistent_500(serve: Serve, kind: str) -> None:
    with pytest.raises(ProviderError) as err:
        run(
            serve,
            kind,
            max_retries=2,
            configure=lambda f: f.fail_next(500, times=5, message="backend on fire"),
        )
    assert "backend on fire" in err.value.message and not err.value.permanent


@pytest.mark.parametrize("kind", KINDS)
def test_slow_provider_times_out(serve: Serve, kind: str) -> None:
    def slow(fake: ProviderFake) -> None:
        fake.delay_s = 1.0

    with pytest.raises(GenerationTimeout):
        run(serve, kind, configure=slow, timeout_s=0.15)


@pytest.mark.parametrize("kind", KINDS)
def test_deadline_bounds_the_whole_output(serve: Serve, kind: str) -> None:
    def slow(fake: ProviderFake) -> None:
        fake.delay_s = 1.0

    with pytest.raises(GenerationTimeout):
        run(serve, kind, configure=slow, request={"deadline_s": 0.3})


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_key_is_bad_configuration(serve: Serve, kind: str) -> None:
    with pytest.raises(BadConfiguration):
        run(serve, kind, api_key="wrong-key")


@pytest.mark.parametrize("kind", [k for k in KINDS if CASES[k].is_async])
def test_pending_then_ready(serve: Serve, kind: str) -> None:
    def pending(fake: ProviderFake) -> None:
        fake.pending = 3

    fake, result = run(serve, kind, configure=pending)
    assert result.data
    assert len(fake.of_route("poll")) == 4


@pytest.mark.parametrize("kind", [k for k in KINDS if CASES[k].is_async])
def test_never_ready_hits_deadline(serve: Serve, kind: str) -> None:
    def forever(fake: ProviderFake) -> None:
        fake.pending = 10**6

    with pytest.raises(GenerationTimeout):
        run(serve, kind, configure=forever, request={"deadline_s": 0.4})


EXPIRED: dict[str, Callable[[ProviderFake], None]] = {
    "openai_images": lambda f: setattr(f, "url_mode", True),
    "bfl": lambda f: None,
    "replicate": lambda f: None,
    "fal": lambda f: None,
    "openai_video": lambda f: None,
    "azure_sora": lambda f: None,
}


@pytest.mark.parametrize("kind", sorted(EXPIRED))
@pytest.mark.parametrize("status", [403, 410])
def test_expired_result_url(serve: Serve, kind: str, status: int) -> None:
    def expire(fake: ProviderFake) -> None:
        EXPIRED[kind](fake)
        fake.expired, fake.expired_status = True, status

    with pytest.raises(ProviderError, match="expired"):
        run(serve, kind, configure=expire)


def test_generic_http_expired_url(serve: Serve) -> None:
    with pytest.raises(ProviderError, match="expired"):
        run(
            serve,
            "generic_http",
            options={"response_path": "output.url"},
            configure=lambda f: setattr(f, "expired", True),
        )


MODERATION: list[tuple[str, str]] = [
    ("openai_images", "moderation"),
    ("azure_openai", "moderation"),
    ("mai_image", "moderation"),
    ("openai_video", "moderation"),
    ("openai_video", "failed"),
    ("azure_sora", "input_moderation"),
    ("azure_sora", "output_moderation"),
    ("bfl", "request_moderated"),
    ("bfl", "content_moderated"),
    ("replicate", "nsfw"),
    ("fal", "nsfw"),
    ("fal", "policy"),
    ("stability", "filtered"),
    ("stability", "moderation"),
    ("gemini_image", "prompt_blocked"),
    ("gemini_image", "image_safety"),
    ("gemini_image", "text_only"),
    ("gemini_image", "no_candidates"),
    ("imagen", "filtered"),
    ("imagen", "rai"),
    ("generic_http", "flagged"),
]


@pytest.mark.parametrize(("kind", "outcome"), MODERATION)
def test_moderation_refused(serve: Serve, kind: str, outcome: str) -> None:
    options = {"refusal_path": "safety.flagged"} if kind == "generic_http" else {}
    with pytest.raises(ModerationRefused) as err:
        run(serve, kind, options=options, configure=lambda f: setattr(f, "outcome", outcome))
    assert err.value.permanent and err.value.code == "moderation"


FAILURES: list[tuple[str, str]] = [
    ("openai_video", "error"),
    ("azure_sora", "internal_error"),
    ("azure_sora", "cancelled"),
    ("bfl", "error"),
    ("bfl", "not_found"),
    ("replicate", "failed"),
    ("replicate", "canceled"),
    ("fal", "error"),
]


@pytest.mark.parametrize(("kind", "outcome"), FAILURES)
def test_job_failure_is_provider_error(serve: Serve, kind: str, outcome: str) -> None:
    with pytest.raises(ProviderError) as err:
        run(serve, kind, configure=lambda f: setattr(f, "outcome", outcome))
    assert not isinstance(err.value, ModerationRefused)


@pytest.mark.parametrize("kind", KINDS)
def test_validate_config_reports_missing_key(kind: str) -> None:
    cls = generator_class(kind)
    problems = cls.validate_config(make_config(kind, "", api_key="", **CASES[kind].options))
    if kind == "generic_http":
        assert problems == ["generic_http needs a base URL"]
    elif cls.default_base_url:  # type: ignore[attr-defined]
        assert f"{kind} needs an API key" in problems
    else:
        assert f"{kind} needs a base URL" in problems
    # an options-only mapping (what an admin form has) never complains about the key
    assert not any("API key" in p for p in cls.validate_config(CASES[kind].options))
