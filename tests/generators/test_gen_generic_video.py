"""generic_http makes video (issue 11): the request's size, duration and frame rate go where
the body template puts them (mapped to what the server accepts), and the clip comes back as raw
video bytes, base64 or a URL fetched through the guarded client, like an image's."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from generators.base import GenerationRequest, ProviderError, get_generator
from generators.generic_http import GenericHTTPGenerator
from generators.netguard import UnsafeURL
from tests.fakes import FakeProviderServer, GenericFake, ProviderFake, mp4_bytes, png_bytes
from tests.fakes.testing import make_config, make_request

Serve = Callable[[ProviderFake], FakeProviderServer]


def video_request(**kwargs: object) -> GenerationRequest:
    """What a 9:16, 4 s battle at 24 fps asks every provider for."""
    fields: dict[str, object] = {
        "modality": "video",
        "width": 486,
        "height": 864,
        "aspect_ratio": "9:16",
        "duration_s": 4.0,
        "fps": 24,
    }
    fields.update(kwargs)
    return make_request(**fields)


def generic(base: str, **options: object) -> GenericHTTPGenerator:
    options.setdefault("path", "/video")
    options.setdefault("auth_header", "X-Api-Key")
    options.setdefault("auth_prefix", "")
    gen = get_generator(make_config("generic_http", base, model_id="in-house-video", **options))
    assert isinstance(gen, GenericHTTPGenerator)
    return gen


def test_raw_video_bytes_with_the_default_video_body(serve: Serve) -> None:
    fake = GenericFake()
    fake.outcome = "raw"
    result = generic(serve(fake).base_url).generate(video_request())
    assert result.content_type == "video/mp4" and result.data == mp4_bytes()
    assert fake.last_submit.json() == {
        "model": "in-house-video",
        "prompt": "a red fox in the snow",
        "width": 488,  # sides to a multiple of 8 (size_multiple)
        "height": 864,
        "aspect_ratio": "61:108",
        "duration_s": 4.0,
        "fps": 24,
        "seed": 1234,
    }
    assert result.mapped == {"size": {"requested": "486x864", "used": "488x864"}}
    assert result.used["sent"] == {
        "width": 488,
        "height": 864,
        "aspect_ratio": "61:108",
        "seed": 1234,
        "model": "in-house-video",
        "duration_s": 4.0,
        "fps": 24,
    }
    assert (result.used["duration_s"], result.used["fps"], result.used["seed"]) == (4.0, 24, 1234)


def test_base64_answer_with_a_template_durations_and_frame_rates(serve: Serve) -> None:
    fake = GenericFake()
    template = {"text": "{prompt}", "res": "{size}", "seconds": "{duration_s}", "n": "{num_frames}"}
    gen = generic(
        serve(fake).base_url,
        body_template=json.dumps(template),
        response_path="output.b64",
        sizes=["720x1280", "1280x720"],
        durations=[5, 10],
        frame_rates=[16],
    )
    result = gen.generate(video_request())
    assert result.data == mp4_bytes()
    assert fake.last_submit.json() == {
        "text": "a red fox in the snow",
        "res": "720x1280",
        "seconds": 5,
        "n": 80,  # 5 s at 16 fps, the nearest the server makes
    }
    assert result.mapped == {
        "size": {"requested": "486x864", "used": "720x1280"},
        "duration_s": {"requested": 4.0, "used": 5},
        "fps": {"requested": 24, "used": None},  # the template has no {fps}
        "seed": {"requested": 1234, "used": None},
    }
    assert result.used["sent"] == {"size": "720x1280", "duration_s": 5, "num_frames": 80}


def test_a_url_answer_is_fetched_through_the_guarded_client(serve: Serve) -> None:
    fake = GenericFake()
    result = generic(serve(fake).base_url, response_path="output.url", max_duration_s=3).generate(
        video_request()
    )
    assert result.data == mp4_bytes()
    (download,) = fake.of_route("file")
    assert download.method == "GET" and download.path.endswith(".mp4")
    assert result.mapped["duration_s"] == {"requested": 4.0, "used": 3.0}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_url_into_the_network_is_refused_like_an_images(serve: Serve, host: str) -> None:
    fake, other = GenericFake(), GenericFake()
    server, _ = serve(fake), serve(other)
    fake.video_url = other.add_file(mp4_bytes(), "video/mp4", ".mp4").replace("127.0.0.1", host)
    gen = generic(server.base_url, response_path="output.url", max_retries=0)
    with pytest.raises(UnsafeURL) as err:
        gen.generate(video_request())
    assert err.value.permanent
    assert other.requests == []  # refused before a byte was sent


def test_the_cloud_metadata_address_is_refused(serve: Serve) -> None:
    fake = GenericFake()
    fake.video_url = "http://169.254.169.254/latest/meta-data/clip.mp4"
    gen = generic(serve(fake).base_url, response_path="output.url", max_retries=0)
    with pytest.raises(UnsafeURL, match="169.254.169.254"):
        gen.generate(video_request())


def test_a_wrong_content_type_is_a_clear_error(serve: Serve) -> None:
    fake = GenericFake()
    server = serve(fake)
    fake.outcome = "wrong_type"
    with pytest.raises(ProviderError, match="Content-Type 'image/png'; expected the clip") as err:
        generic(server.base_url).generate(video_request())
    assert err.value.permanent
    fake.outcome = "ok"
    fake.file_content_type = "text/html"
    with pytest.raises(ProviderError, match="content type 'text/html', expected one of video/"):
        generic(server.base_url, response_path="output.url").generate(video_request())
    fake.file_content_type = None
    fake.video_url = fake.add_file(png_bytes(), "video/mp4", ".mp4")  # labelled, not a video
    with pytest.raises(ProviderError, match="not a video"):
        generic(server.base_url, response_path="output.url").generate(video_request())


def test_video_size_limits_hold_for_urls_and_raw_answers(serve: Serve) -> None:
    fake = GenericFake()
    server = serve(fake)
    with pytest.raises(ProviderError, match="over the 1000 limit|exceeded the 1000 byte limit"):
        generic(server.base_url, response_path="output.url", max_bytes=1000).generate(
            video_request()
        )
    fake.outcome = "raw"
    with pytest.raises(ProviderError, match="over the 1000 byte limit"):
        generic(server.base_url, max_bytes=1000).generate(video_request())


def test_an_image_request_to_the_same_server_is_unchanged(serve: Serve) -> None:
    fake = GenericFake()
    gen = generic(
        serve(fake).base_url,
        path="/generate",
        body_template={"p": "{prompt}", "w": "{width}", "h": "{height}"},
        response_path="output.b64",
    )
    result = gen.generate(make_request(width=640, height=480))
    assert result.content_type == "image/png"
    assert result.used["sent"] == {"width": 640, "height": 480}
    assert fake.last_submit.json() == {"p": "a red fox in the snow", "w": 640, "h": 480}


def test_video_options_are_checked() -> None:
    problems = GenericHTTPGenerator.validate_config({"durations": [], "frame_rates": ["24"]})
    assert problems == [
        "options.durations must be a non-empty list of positive numbers",
        "options.frame_rates must be a non-empty list of positive numbers",
    ]
    assert GenericHTTPGenerator.validate_config({"durations": [4, 8.5], "frame_rates": [24]}) == []
