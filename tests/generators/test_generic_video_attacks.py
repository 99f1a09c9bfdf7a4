"""Attacks on generic_http video (the merge's new caller of the guarded client): a hostile
in-house server's video URL in every spelling that might reach the inside, and a voter's
prompt that tries to rewrite the body template."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from generators.base import ProviderError
from generators.generic_http import fill
from generators.netguard import UnsafeURL
from tests.fakes import FakeProviderServer, GenericFake, ProviderFake, mp4_bytes
from tests.fakes.testing import make_request
from tests.generators.test_gen_generic_video import generic, video_request

Serve = Callable[[ProviderFake], FakeProviderServer]


@pytest.mark.parametrize(
    "spelling",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1:{port}/clip.mp4",
        "gopher://127.0.0.1:{port}/_GET",
        "http://2130706433:{port}{path}",  # 127.0.0.1 as one number
        "http://0x7f.1:{port}{path}",
        "http://[::ffff:127.0.0.1]:{port}{path}",
        "http://[::1]:{port}{path}",
        "http://evil.example@127.0.0.1:{port}{path}",
        "http://127.0.0.1:{port}\\@evil.example{path}",
        "REDIRECT",  # the server's own origin redirects to the other server
    ],
)
def test_a_video_url_into_the_network_is_refused_in_any_spelling(
    serve: Serve, spelling: str
) -> None:
    """The other server (a stand-in for anything inside) never sees a request."""
    fake, inside = GenericFake(), GenericFake()
    server, inside_server = serve(fake), serve(inside)
    target = inside.add_file(mp4_bytes(), "video/mp4", ".mp4")
    path = target.removeprefix(inside_server.base_url)
    if spelling == "REDIRECT":
        fake.redirects["/clip.mp4"] = target
        fake.video_url = server.base_url + "/clip.mp4"
    else:
        fake.video_url = spelling.format(port=inside_server.port, path=path)
    gen = generic(server.base_url, response_path="output.url", response_type="url", max_retries=0)
    with pytest.raises(UnsafeURL) as err:
        gen.generate(video_request())
    assert err.value.permanent
    assert inside.requests == []


def test_a_file_url_is_never_read_even_when_the_answer_type_is_guessed(serve: Serve) -> None:
    fake = GenericFake()
    fake.video_url = "file:///etc/passwd"
    gen = generic(serve(fake).base_url, response_path="output.url", max_retries=0)
    with pytest.raises(ProviderError, match="base64"):  # not a URL to fetch: bad base64
        gen.generate(video_request())


PROMPTS = [
    '{image_b64}{seed}{model} "}, "model": "other", "x": "',
    "{prompt}" * 50,
    "{duration_s}",
]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_a_prompt_cannot_rewrite_the_body_template(serve: Serve, prompt: str) -> None:
    """Placeholders in the voter's text stay text; quotes stay inside the prompt's string."""
    fake = GenericFake()
    fake.outcome = "raw"
    template = {"p": "{prompt}", "m": "{model}", "d": "{duration_s}", "s": "{seed}"}
    generic(serve(fake).base_url, body_template=template).generate(video_request(prompt=prompt))
    assert fake.last_submit.json() == {"p": prompt, "m": "in-house-video", "d": 4.0, "s": 1234}
    assert fill({"p": "x {prompt} y"}, {"prompt": prompt}) == {"p": f"x {prompt} y"}


def test_a_video_template_used_for_an_image_sends_null_not_a_crash(serve: Serve) -> None:
    """One in-house server in an image and a video arena: the video-only placeholders of its
    template have no value in an image request (was a KeyError: a 500 in Test generate)."""
    fake = GenericFake()
    template = {
        "p": "{prompt}",
        "w": "{width}",
        "h": "{height}",
        "d": "{duration_s}",
        "f": "x{fps}",
    }
    result = generic(
        serve(fake).base_url, path="/generate", body_template=template, response_path="output.b64"
    ).generate(make_request(width=64, height=64))
    assert result.content_type == "image/png"
    assert fake.last_submit.json() == {
        "p": "a red fox in the snow",
        "w": 64,
        "h": 64,
        "d": None,
        "f": "x",
    }
