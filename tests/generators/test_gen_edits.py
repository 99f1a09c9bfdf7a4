"""Image editing over real HTTP against the fakes: OpenAI images/edits (multipart), FLUX
Kontext input_image (base64 JSON), generic_http (base64 JSON), Azure's deployment edits URL,
Foundry MAI's /mai/v1/images/edits (multipart, api-key).
Each fake decodes the image it received and answers it inverted, so the test sees the exact
bytes arrive and the edit come back."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from PIL import Image

from generators.base import (
    BadConfiguration,
    Generator,
    ProviderError,
    get_generator,
    kind_supports_edit,
)
from tests.fakes import BFLFake, FakeProviderServer, GenericFake, OpenAIImagesFake, ProviderFake
from tests.fakes.testing import make_config, make_request

Serve = Callable[[ProviderFake], FakeProviderServer]


def source_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (250, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def assert_inverted_source(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (48, 32)
        assert img.convert("RGB").getpixel((1, 1)) == (5, 245, 245)


def edit(gen: Generator) -> bytes:
    result = gen.generate(make_request(prompt="make it cyan", source_image=source_png()))
    assert result.used.get("edit") is True
    return result.data


def test_openai_sends_the_image_as_multipart_to_images_edits(serve: Serve) -> None:
    fake = OpenAIImagesFake()
    base = serve(fake).base_url + "/v1"
    data = edit(get_generator(make_config("openai_images", base, model_id="gpt-image-1")))
    assert fake.edit_images == [source_png()]
    request = fake.requests[-1]
    assert request.path == "/v1/images/edits"
    assert request.header("content-type").startswith("multipart/form-data")
    form = request.form()
    assert form["prompt"] == "make it cyan" and form["model"] == "gpt-image-1"
    assert request.header("Authorization") == "Bearer test-key"
    assert_inverted_source(data)


def test_azure_edits_go_to_the_deployments_edits_url(serve: Serve) -> None:
    fake = OpenAIImagesFake(azure=True)
    base = serve(fake).base_url
    gen = get_generator(make_config("azure_openai", base, deployment="gpt-image-1"))
    assert_inverted_source(edit(gen))
    assert fake.requests[-1].path == "/openai/deployments/gpt-image-1/images/edits"


def test_mai_sends_model_prompt_and_image_as_multipart_with_the_api_key(serve: Serve) -> None:
    fake = OpenAIImagesFake(mai=True)
    base = serve(fake).base_url
    gen = get_generator(make_config("mai_image", base, model_id="MAI-Image-2.5"))
    data = gen.generate(
        make_request(prompt="make it cyan", source_image=source_png(), width=1024, height=768)
    )
    assert data.used["model"] == "MAI-Image-2.5" and data.used["edit"] is True
    assert data.mapped["size"] == {"requested": "1024x768", "used": None}
    assert_inverted_source(data.data)
    assert fake.edit_images == [source_png()]
    request = fake.requests[-1]
    assert request.path == "/mai/v1/images/edits"
    assert request.header("content-type").startswith("multipart/form-data")
    assert set(request.files()) == {"model", "prompt", "image"}
    assert request.form()["model"] == "MAI-Image-2.5"
    assert request.form()["prompt"] == "make it cyan"
    assert request.header("api-key") == "test-key" and request.header("Authorization") is None


def test_mai_edit_with_a_wrong_key_is_a_configuration_error(serve: Serve) -> None:
    fake = OpenAIImagesFake(mai=True)
    gen = get_generator(make_config("mai_image", serve(fake).base_url, api_key="wrong"))
    with pytest.raises(BadConfiguration):
        gen.generate(make_request(source_image=source_png()))
    assert fake.edit_images == []


def test_openai_edit_without_a_real_image_is_refused_by_the_fake(serve: Serve) -> None:
    fake = OpenAIImagesFake()
    gen = get_generator(make_config("openai_images", serve(fake).base_url + "/v1"))
    with pytest.raises(ProviderError):
        gen.generate(make_request(source_image=b"not an image"))


def test_flux_kontext_sends_input_image_base64_in_the_json(serve: Serve) -> None:
    fake = BFLFake()
    base = serve(fake).base_url
    gen = get_generator(make_config("bfl", base, model_id="flux-kontext-pro"))
    assert_inverted_source(edit(gen))
    assert fake.edit_images == [source_png()]
    submit = fake.requests[0]
    assert submit.path == "/v1/flux-kontext-pro"
    body = submit.json()
    assert body["prompt"] == "make it cyan" and "aspect_ratio" in body


def test_generic_http_sends_the_image_base64_in_the_json(serve: Serve) -> None:
    fake = GenericFake()
    base = serve(fake).base_url
    cfg = make_config(
        "generic_http",
        base,
        path="/generate",
        body_template=json.dumps({"input": {"text": "{prompt}"}, "w": "{width}"}),
        response_path="output.b64",
        auth_header="X-Api-Key",
        auth_prefix="",
    )
    assert_inverted_source(edit(get_generator(cfg)))
    assert fake.edit_images == [source_png()]
    assert set(fake.requests[-1].json()) == {"input", "w", "image"}


def test_generic_http_template_may_place_the_image_itself(serve: Serve) -> None:
    fake = GenericFake()
    base = serve(fake).base_url
    cfg = make_config(
        "generic_http",
        base,
        path="/generate",
        body_template=json.dumps({"prompt": "{prompt}", "image": "{image_b64}"}),
        response_path="output.b64",
        auth_header="X-Api-Key",
        auth_prefix="",
    )
    assert_inverted_source(edit(get_generator(cfg)))
    assert set(fake.requests[-1].json()) == {"prompt", "image"}


def test_only_kinds_with_an_edit_endpoint_say_they_edit() -> None:
    editing = {"demo", "openai_images", "azure_openai", "bfl", "generic_http", "mai_image"}
    for kind in editing:
        assert kind_supports_edit(kind), kind
    for kind in ("stability", "imagen", "openai_video", "replicate", "fal"):
        assert kind not in editing and not kind_supports_edit(kind), kind
