"""openai_images and bfl generators against their fakes, for every scripted case."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from generators.base import (
    BadConfiguration,
    GenerationTimeout,
    ModerationRefused,
    ProviderError,
    RateLimited,
    get_generator,
)
from generators.bfl import BFLGenerator
from generators.openai_images import OpenAIImagesGenerator
from tests.fakes import BFLFake, FakeProviderServer, OpenAIImagesFake, ProviderFake
from tests.fakes.testing import make_config, make_request

Serve = Callable[[ProviderFake], FakeProviderServer]


# ---------------------------------------------------------------------- OpenAI images
@pytest.fixture
def openai(serve: Serve) -> tuple[OpenAIImagesFake, str]:
    fake = OpenAIImagesFake()
    return fake, serve(fake).base_url + "/v1"


def test_openai_b64_success_maps_size_and_records_request(
    openai: tuple[OpenAIImagesFake, str],
) -> None:
    fake, base = openai
    gen = get_generator(
        make_config(
            "openai_images",
            base,
            model_id="gpt-image-1",
            cost_per_million_input_tokens=5,
            cost_per_million_output_tokens=40,
        )
    )
    assert isinstance(gen, OpenAIImagesGenerator) and gen.queue == "remote"
    result = gen.generate(make_request(width=1000, height=700, quality="hd"))
    req = fake.last_submit
    assert req.path == "/v1/images/generations"
    assert req.header("Authorization") == "Bearer test-key"
    body = req.json()
    assert body["size"] == "1536x1024" and body["model"] == "gpt-image-1"
    assert body["quality"] == "high" and body["n"] == 1 and "seed" not in body
    assert result.content_type == "image/png" and result.data.startswith(b"\x89PNG")
    assert result.used["width"] == 1536 and result.used["height"] == 1024
    assert result.used["model"] == "gpt-image-1"
    assert result.mapped["size"] == {"requested": "1000x700", "used": "1536x1024"}
    assert result.mapped["quality"] == {"requested": "hd", "used": "high"}
    assert result.mapped["seed"] == {"requested": 1234, "used": None}
    assert result.cost == pytest.approx((50 * 5 + 4160 * 40) / 1e6)
    assert result.latency_s > 0


def test_openai_cost_per_output_wins(openai: tuple[OpenAIImagesFake, str]) -> None:
    _, base = openai
    gen = get_generator(make_config("openai_images", base, cost_per_output=0.04))
    assert gen.generate(make_request(aspect_ratio="9:16")).cost == 0.04


def test_openai_dalle3_url_response_is_downloaded(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    gen = get_generator(
        make_config("openai_images", base, model_id="dall-e-3", response_format="url")
    )
    result = gen.generate(make_request(aspect_ratio="16:9", quality="high"))
    body = fake.last_submit.json()
    assert body["size"] == "1792x1024" and body["quality"] == "hd"
    assert body["response_format"] == "url"
    assert len(fake.of_route("file")) == 1
    assert fake.of_route("file")[0].header("authorization") is None
    assert result.used["width"] == 1792 and result.used["revised_prompt"].startswith("revised")


def test_openai_moderation_refused(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    fake.outcome = "moderation"
    gen = get_generator(make_config("openai_images", base))
    with pytest.raises(ModerationRefused) as err:
        gen.generate(make_request())
    assert err.value.permanent and "moderation_blocked" in err.value.message
    assert len(fake.of_route("submit")) == 1


def test_openai_429_retry_after_then_success(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    fake.fail_next(429, retry_after="0.05")
    result = get_generator(make_config("openai_images", base)).generate(make_request())
    assert result.data and len(fake.of_route("submit")) == 2


def test_openai_429_persistent_is_rate_limited(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    fake.fail_next(429, times=10, retry_after="7")
    with pytest.raises(RateLimited) as err:
        get_generator(make_config("openai_images", base)).generate(make_request(deadline_s=3))
    assert err.value.retry_after == 7.0 and "rate_limit_exceeded" in err.value.message


def test_openai_500_then_success(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    fake.fail_next(500)
    assert get_generator(make_config("openai_images", base)).generate(make_request()).data
    assert len(fake.of_route("submit")) == 2


def test_openai_persistent_500(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    fake.fail_next(500, times=10, message="The server had an error")
    with pytest.raises(ProviderError, match="The server had an error") as err:
        get_generator(make_config("openai_images", base, max_retries=2)).generate(make_request())
    assert not err.value.permanent


def test_openai_slow_times_out(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    fake.delay_s = 1.0
    with pytest.raises(GenerationTimeout):
        get_generator(make_config("openai_images", base, timeout_s=0.2)).generate(make_request())


def test_openai_expired_url(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    fake.url_mode, fake.expired = True, True
    with pytest.raises(ProviderError, match="expired"):
        get_generator(make_config("openai_images", base)).generate(make_request())


def test_openai_bad_key_is_bad_configuration(openai: tuple[OpenAIImagesFake, str]) -> None:
    _, base = openai
    with pytest.raises(BadConfiguration, match="invalid_api_key"):
        get_generator(make_config("openai_images", base, api_key="wrong")).generate(make_request())


def test_openai_empty_data_is_provider_error(openai: tuple[OpenAIImagesFake, str]) -> None:
    fake, base = openai
    fake.outcome = "empty"
    with pytest.raises(ProviderError, match="no data"):
        get_generator(make_config("openai_images", base)).generate(make_request())


def test_openai_garbage_image_bytes_rejected(
    openai: tuple[OpenAIImagesFake, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, base = openai
    import tests.fakes.openai as fake_mod

    monkeypatch.setattr(fake_mod, "png_bytes", lambda w, h: b"not an image")
    with pytest.raises(ProviderError, match="not a readable image"):
        get_generator(make_config("openai_images", base)).generate(make_request())


def test_openai_validate_config() -> None:
    assert OpenAIImagesGenerator.validate_config(make_config("openai_images", "")) == []
    problems = OpenAIImagesGenerator.validate_config(
        make_config("openai_images", "ftp://x", api_key="")
    )
    assert "openai_images needs an API key" in problems
    assert any("http" in p for p in problems)
    with pytest.raises(BadConfiguration, match="API key"):
        OpenAIImagesGenerator(make_config("openai_images", "", api_key=""))


def test_openai_rejects_video_requests(openai: tuple[OpenAIImagesFake, str]) -> None:
    _, base = openai
    with pytest.raises(BadConfiguration):
        get_generator(make_config("openai_images", base)).generate(make_request(modality="video"))


# ---------------------------------------------------------------------- BFL
@pytest.fixture
def bfl(serve: Serve) -> tuple[BFLFake, str]:
    fake = BFLFake()
    return fake, serve(fake).base_url


def test_bfl_pending_then_ready(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.pending = 3
    gen = get_generator(make_config("bfl", base, model_id="flux-pro-1.1"))
    assert isinstance(gen, BFLGenerator)
    result = gen.generate(make_request(width=1000, height=700, seed=77))
    submit = fake.last_submit
    assert submit.path == "/v1/flux-pro-1.1" and submit.header("x-key") == "test-key"
    body = submit.json()
    assert (body["width"], body["height"]) == (992, 704)  # multiples of 32
    assert body["seed"] == 77 and body["output_format"] == "png"
    polls = fake.of_route("poll")
    assert len(polls) == 4 and all(p.header("x-key") == "test-key" for p in polls)
    files = fake.of_route("file")
    assert len(files) == 1 and files[0].header("x-key") is None
    assert result.used == {
        "model": "flux-pro-1.1",
        "seed": 77,
        "job_id": polls[0].params()["id"],
        "width": 992,
        "height": 704,
    }
    assert result.mapped["size"] == {"requested": "1000x700", "used": "992x704"}
    assert result.content_type == "image/png"


def test_bfl_flux2_sizes_and_kontext_aspect(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    get_generator(make_config("bfl", base, model_id="flux-2-pro")).generate(
        make_request(width=1000, height=700)
    )
    assert (fake.last_submit.json()["width"], fake.last_submit.json()["height"]) == (1008, 704)
    result = get_generator(make_config("bfl", base, model_id="flux-kontext-pro")).generate(
        make_request(width=1000, height=700)
    )
    body = fake.last_submit.json()
    assert body["aspect_ratio"] == "3:2" and "width" not in body
    assert result.mapped["aspect_ratio"] == {"requested": "10:7", "used": "3:2"}


@pytest.mark.parametrize("outcome", ["request_moderated", "content_moderated"])
def test_bfl_moderation(bfl: tuple[BFLFake, str], outcome: str) -> None:
    fake, base = bfl
    fake.outcome, fake.pending = outcome, 1
    with pytest.raises(ModerationRefused, match="Moderated"):
        get_generator(make_config("bfl", base)).generate(make_request())


def test_bfl_job_error(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.outcome = "error"
    with pytest.raises(ProviderError, match="Error"):
        get_generator(make_config("bfl", base)).generate(make_request())


def test_bfl_429_retry_after_then_success(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.fail_next(429, retry_after="0.05", message="You have reached the active task limit")
    assert get_generator(make_config("bfl", base)).generate(make_request()).data
    assert len(fake.of_route("submit")) == 2


def test_bfl_429_persistent(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.fail_next(429, times=10, retry_after="1", message="active task limit reached")
    with pytest.raises(RateLimited, match="active task limit") as err:
        get_generator(make_config("bfl", base, max_retries=0)).generate(make_request())
    assert err.value.retry_after == 1.0


def test_bfl_500_on_submit_and_poll_then_success(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.fail_next(500)
    fake.fail_next(503, route="poll")
    assert get_generator(make_config("bfl", base)).generate(make_request()).data


def test_bfl_persistent_500(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.fail_next(500, times=10)
    with pytest.raises(ProviderError, match="HTTP 500"):
        get_generator(make_config("bfl", base, max_retries=1)).generate(make_request())


def test_bfl_never_ready_hits_deadline(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.pending = 10_000
    # the poll loop gives up, or (on a crowded machine) the watchdog cuts the poll in flight
    with pytest.raises(GenerationTimeout, match="not finished|deadline of 0.5s passed"):
        get_generator(make_config("bfl", base)).generate(make_request(deadline_s=0.5))


def test_bfl_slow_submit_times_out(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.delay_s = 1.0
    with pytest.raises(GenerationTimeout):
        get_generator(make_config("bfl", base)).generate(make_request(deadline_s=0.4))


def test_bfl_expired_sample_url(bfl: tuple[BFLFake, str]) -> None:
    fake, base = bfl
    fake.expired = True
    with pytest.raises(ProviderError, match="expired"):
        get_generator(make_config("bfl", base)).generate(make_request())


def test_bfl_bad_key(bfl: tuple[BFLFake, str]) -> None:
    _, base = bfl
    with pytest.raises(BadConfiguration):
        get_generator(make_config("bfl", base, api_key="nope")).generate(make_request())


def test_bfl_relative_polling_url_is_joined(
    bfl: tuple[BFLFake, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, base = bfl
    orig = fake.handle

    def handle(req):  # type: ignore[no-untyped-def]
        reply = orig(req)
        if req.route == "submit":
            reply.body["polling_url"] = "/v1/get_result?id=" + reply.body["id"]
        return reply

    monkeypatch.setattr(fake, "handle", handle)
    assert get_generator(make_config("bfl", base)).generate(make_request()).data


def test_png_helper_is_real_png() -> None:
    from tests.fakes import png_bytes

    assert base64.b64encode(png_bytes(8, 8))
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(png_bytes(8, 4))).size == (8, 4)
