"""Per-provider wire details: URLs, auth, bodies and the parameter mapping each one records."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from generators.base import BadConfiguration, get_generator
from generators.generic_http import GenericHTTPGenerator, fill
from generators.mai_image import mai_dims
from generators.sizing import fit_dims, nearest_aspect, nearest_size, requested_dims
from tests.fakes import (
    AzureSoraFake,
    FakeProviderServer,
    FalFake,
    GenericFake,
    GoogleFake,
    OpenAIImagesFake,
    OpenAIVideoFake,
    ProviderFake,
    ReplicateFake,
    StabilityFake,
)
from tests.fakes.testing import make_config, make_request

Serve = Callable[[ProviderFake], FakeProviderServer]


# ---------------------------------------------------------------------- sizing helpers
def test_nearest_size_prefers_aspect_then_area() -> None:
    sizes = [(1024, 1024), (1536, 1024), (1024, 1536)]
    assert nearest_size(1000, 700, sizes) == (1536, 1024)
    assert nearest_size(700, 1000, sizes) == (1024, 1536)
    assert nearest_size(512, 512, sizes) == (1024, 1024)


def test_fit_dims_respects_box_and_multiple() -> None:
    assert fit_dims(1000, 700, multiple=32, min_side=256, max_side=1440) == (992, 704)
    w, h = fit_dims(4000, 3000, multiple=16, max_pixels=4_194_304)
    assert w * h <= 4_194_304 and w % 16 == 0 and h % 16 == 0
    assert fit_dims(100, 100, multiple=32, min_side=256, max_side=1440) == (256, 256)


def test_nearest_aspect_and_requested_dims() -> None:
    assert nearest_aspect(1000 / 700, ["16:9", "1:1", "3:2", "4:3"]) == "3:2"
    assert nearest_aspect(0.5, ["16:9", "9:16", "1:1"]) == "9:16"
    assert requested_dims(make_request(aspect_ratio="16:9")) == (1365, 768)
    assert requested_dims(make_request()) is None


def test_mai_dims_constraints() -> None:
    for req in [(1000, 700), (2048, 2048), (4000, 1000), (1000, 4000), (512, 512), (768, 768)]:
        w, h = mai_dims(*req)
        assert w >= 768 and h >= 768 and w * h <= 1_048_576, (req, w, h)
    assert mai_dims(2048, 2048) == (1024, 1024)


# ---------------------------------------------------------------------- Azure OpenAI / MAI
def test_azure_openai_url_version_and_auth(serve: Serve) -> None:
    fake = OpenAIImagesFake(azure=True)
    base = serve(fake).base_url
    gen = get_generator(
        make_config(
            "azure_openai",
            base,
            model_id="gpt-image-1",
            deployment="img-prod",
            api_version="2025-04-01-preview",
        )
    )
    result = gen.generate(make_request(width=1000, height=700))
    req = fake.last_submit
    assert req.path == "/openai/deployments/img-prod/images/generations"
    assert req.params() == {"api-version": "2025-04-01-preview"}
    assert req.header("api-key") == "test-key" and req.header("authorization") is None
    assert "model" not in req.json() and req.json()["size"] == "1536x1024"
    assert result.mapped["size"]["used"] == "1536x1024"


def test_azure_openai_v1_surface_and_bearer(serve: Serve) -> None:
    fake = OpenAIImagesFake()
    base = serve(fake).base_url
    gen = get_generator(
        make_config("azure_openai", base + "/openai/v1", model_id="gpt-image-1", auth="bearer")
    )
    gen.generate(make_request())
    req = fake.last_submit
    assert req.path == "/openai/v1/images/generations" and req.params()["api-version"] == "preview"
    assert req.json()["model"] == "gpt-image-1"
    assert req.header("authorization") == "Bearer test-key"


def test_azure_openai_needs_deployment() -> None:
    from generators.azure_openai import AzureOpenAIImagesGenerator

    cfg = make_config("azure_openai", "https://x.openai.azure.com")
    assert (
        "azure_openai needs options.deployment (or the contender's model_id)"
        in AzureOpenAIImagesGenerator.validate_config(cfg)
    )
    with pytest.raises(BadConfiguration, match="deployment"):
        get_generator(cfg)


def test_mai_body_and_mapping(serve: Serve) -> None:
    fake = OpenAIImagesFake(azure=True)
    base = serve(fake).base_url
    result = get_generator(
        make_config("mai_image", base, model_id="MAI-Image-2", deployment="mai-deploy")
    ).generate(make_request(width=2048, height=2048))
    req = fake.last_submit
    assert req.path == "/mai/v1/images/generations"
    assert req.json() == {
        "model": "mai-deploy",
        "prompt": "a red fox in the snow",
        "width": 1024,
        "height": 1024,
    }
    assert result.mapped["size"] == {"requested": "2048x2048", "used": "1024x1024"}
    assert result.used["width"] == 1024 and result.used["seed"] is None


# ---------------------------------------------------------------------- video
def test_sora2_multipart_and_mapping(serve: Serve) -> None:
    fake = OpenAIVideoFake()
    base = serve(fake).base_url + "/v1"
    result = get_generator(
        make_config("openai_video", base, model_id="sora-2", cost_per_second=0.1)
    ).generate(make_request(modality="video", aspect_ratio="16:9", duration_s=7, fps=24))
    form = fake.last_submit.form()
    assert form == {
        "model": "sora-2",
        "prompt": "a red fox in the snow",
        "seconds": "8",
        "size": "1280x720",
    }
    assert fake.last_submit.header("content-type").startswith("multipart/form-data")
    content = fake.of_route("result")
    assert content[0].header("authorization") == "Bearer test-key"
    assert content[0].params() == {"variant": "video"}
    assert result.mapped["duration_s"] == {"requested": 7, "used": 8.0}
    assert result.mapped["fps"] == {"requested": 24, "used": None}
    assert result.used["duration_s"] == 8.0 and result.used["width"] == 1280
    assert result.cost == pytest.approx(0.8)
    assert result.content_type == "video/mp4"


def test_sora2_pro_sizes_and_azure_auth(serve: Serve) -> None:
    fake = OpenAIVideoFake(azure=True)
    base = serve(fake).base_url + "/openai/v1"
    get_generator(
        make_config("openai_video", base, model_id="sora-2-pro", auth="api-key", json_body=True)
    ).generate(make_request(modality="video", width=1792, height=1024))
    body = fake.last_submit.json()
    assert body["size"] == "1792x1024" and body["seconds"] == "4"
    assert fake.last_submit.path == "/openai/v1/videos"


def test_azure_sora_body_limits_and_urls(serve: Serve) -> None:
    fake = AzureSoraFake()
    base = serve(fake).base_url
    result = get_generator(make_config("azure_sora", base, deployment="sora")).generate(
        make_request(modality="video", width=1920, height=1080, duration_s=15)
    )
    req = fake.last_submit
    assert req.path == "/openai/v1/video/generations/jobs"
    assert req.params() == {"api-version": "preview"}
    assert req.json() == {
        "model": "sora",
        "prompt": "a red fox in the snow",
        "width": 1920,
        "height": 1080,
        "n_seconds": 10,
        "n_variants": 1,
    }
    assert result.mapped["duration_s"] == {"requested": 15, "used": 10.0}
    res = fake.of_route("result")[0]
    assert res.path.endswith("/content/video") and res.header("api-key") == "test-key"
    assert result.used["generation_id"].startswith("gen_")


# ---------------------------------------------------------------------- Replicate
def test_replicate_prefer_wait_answers_at_once(serve: Serve) -> None:
    fake = ReplicateFake()
    base = serve(fake).base_url + "/v1"
    result = get_generator(
        make_config("replicate", base, model_id="black-forest-labs/flux-dev", cost_per_second=0.01)
    ).generate(make_request(width=1000, height=700))
    req = fake.last_submit
    assert req.path == "/v1/models/black-forest-labs/flux-dev/predictions"
    assert req.header("prefer") == "wait=3"  # bounded by the 5 s read timeout
    assert req.json()["input"] == {
        "prompt": "a red fox in the snow",
        "seed": 1234,
        "aspect_ratio": "3:2",
        "output_format": "png",
    }
    assert fake.of_route("poll") == []
    assert result.mapped["aspect_ratio"] == {"requested": "10:7", "used": "3:2"}
    assert result.cost == pytest.approx(0.025)


def test_replicate_version_and_width_height(serve: Serve) -> None:
    fake = ReplicateFake()
    fake.pending = 1
    fake.output_list = False
    base = serve(fake).base_url + "/v1"
    result = get_generator(
        make_config(
            "replicate",
            base,
            model_id="stability-ai/sdxl:" + "a" * 64,
            size_param="width_height",
            input_defaults={"num_inference_steps": 4},
        )
    ).generate(make_request(width=1000, height=700))
    body = fake.last_submit.json()
    assert fake.last_submit.path == "/v1/predictions"
    assert body["version"] == "stability-ai/sdxl:" + "a" * 64
    assert body["input"]["width"] == 1008 and body["input"]["height"] == 704
    assert body["input"]["num_inference_steps"] == 4
    assert result.used["width"] == 1008


def test_replicate_video_output(serve: Serve) -> None:
    fake = ReplicateFake(video=True)
    base = serve(fake).base_url + "/v1"
    result = get_generator(
        make_config("replicate", base, model_id="owner/video", duration_param="duration")
    ).generate(make_request(modality="video", duration_s=5))
    assert result.content_type == "video/mp4"
    assert fake.last_submit.json()["input"]["duration"] == 5


# ---------------------------------------------------------------------- fal
def test_fal_image_size_and_urls(serve: Serve) -> None:
    fake = FalFake()
    fake.pending = 2
    base = serve(fake).base_url
    result = get_generator(make_config("fal", base, model_id="fal-ai/flux/dev")).generate(
        make_request(width=1000, height=700, seed=5)
    )
    req = fake.last_submit
    assert req.path == "/fal-ai/flux/dev"
    assert req.json() == {
        "prompt": "a red fox in the snow",
        "seed": 5,
        "image_size": {"width": 1008, "height": 704},
        "num_images": 1,
        "output_format": "png",
        "enable_safety_checker": True,
    }
    polls = fake.of_route("poll")
    assert [p.path for p in polls][0] == f"/fal-ai/flux/requests/{result.used['request_id']}/status"
    assert result.used["inference_time_s"] == 1.25 and result.used["width"] == 1008


def test_fal_size_enum_and_video(serve: Serve) -> None:
    fake = FalFake()
    base = serve(fake).base_url
    gen = get_generator(
        make_config("fal", base, model_id="fal-ai/flux/schnell", size_param="image_size_enum")
    )
    result = gen.generate(make_request(aspect_ratio="16:9"))
    assert fake.last_submit.json()["image_size"] == "landscape_16_9"
    assert result.mapped["size"] == {"requested": "16:9", "used": "1024x576"}
    fake.outcome = "video"
    video = get_generator(make_config("fal", base, model_id="fal-ai/veo3")).generate(
        make_request(modality="video")
    )
    assert video.content_type == "video/mp4"


# ---------------------------------------------------------------------- Stability
@pytest.mark.parametrize("accept", ["json", "image"])
def test_stability_multipart_and_accept(serve: Serve, accept: str) -> None:
    fake = StabilityFake()
    base = serve(fake).base_url
    result = get_generator(
        make_config("stability", base, model_id="sd3.5-large", accept=accept)
    ).generate(make_request(width=1000, height=700, seed=42))
    req = fake.last_submit
    assert req.path == "/v2beta/stable-image/generate/sd3"
    assert req.header("accept") == ("application/json" if accept == "json" else "image/*")
    assert req.header("authorization") == "Bearer test-key"
    assert req.form() == {
        "prompt": "a red fox in the snow",
        "seed": "42",
        "output_format": "png",
        "aspect_ratio": "3:2",
        "model": "sd3.5-large",
    }
    assert result.used["seed"] == 42 and result.used["aspect_ratio"] == "3:2"
    assert (result.used["width"], result.used["height"]) == (60, 40)


def test_stability_reports_seed_when_random(serve: Serve) -> None:
    fake = StabilityFake()
    base = serve(fake).base_url
    result = get_generator(make_config("stability", base, model_id="ultra")).generate(
        make_request(seed=0)
    )
    assert fake.last_submit.path.endswith("/ultra") and "model" not in fake.last_submit.form()
    assert result.used["seed"] == 987654


# ---------------------------------------------------------------------- Google
def test_gemini_body_usage_and_cost(serve: Serve) -> None:
    fake = GoogleFake()
    base = serve(fake).base_url + "/v1beta"
    result = get_generator(
        make_config("gemini_image", base, cost_per_million_output_tokens=30)
    ).generate(make_request(width=1000, height=700, seed=9))
    req = fake.last_submit
    assert req.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert req.header("x-goog-api-key") == "test-key"
    body = req.json()
    assert body["contents"][0]["parts"][0]["text"] == "a red fox in the snow"
    assert body["generationConfig"] == {
        "responseModalities": ["IMAGE"],
        "seed": 9,
        "imageConfig": {"aspectRatio": "3:2"},
    }
    assert result.mapped["aspect_ratio"] == {"requested": "10:7", "used": "3:2"}
    assert result.cost == pytest.approx(1290 * 30 / 1e6)


def test_imagen_body_and_seed_mapping(serve: Serve) -> None:
    fake = GoogleFake()
    base = serve(fake).base_url + "/v1beta"
    result = get_generator(make_config("imagen", base)).generate(make_request(aspect_ratio="3:2"))
    req = fake.last_submit
    assert req.path == "/v1beta/models/imagen-4.0-generate-001:predict"
    assert req.json() == {
        "instances": [{"prompt": "a red fox in the snow"}],
        "parameters": {"sampleCount": 1, "aspectRatio": "4:3"},
    }
    assert result.mapped["seed"] == {"requested": 1234, "used": None}
    assert result.mapped["aspect_ratio"] == {"requested": "3:2", "used": "4:3"}


# ---------------------------------------------------------------------- generic HTTP
def test_fill_keeps_number_types() -> None:
    tmpl = {
        "p": "{prompt}",
        "s": "{seed}",
        "size": "{width}x{height}",
        "n": 1,
        "l": ["{width}", "x{height}"],
    }
    assert fill(tmpl, {"prompt": "hi", "seed": 3, "width": 64, "height": 32}) == {
        "p": "hi",
        "s": 3,
        "size": "64x32",
        "n": 1,
        "l": [64, "x32"],
    }


def test_generic_defaults_speak_openai_format(serve: Serve) -> None:
    fake = OpenAIImagesFake()
    base = serve(fake).base_url
    result = get_generator(
        make_config(
            "generic_http",
            base,
            model_id="local-sd",
            path="/v1/images/generations",
            sizes=["512x512", "768x512"],
        )
    ).generate(make_request(width=1000, height=700))
    body = fake.last_submit.json()
    assert body == {
        "model": "local-sd",
        "prompt": "a red fox in the snow",
        "n": 1,
        "size": "768x512",
        "response_format": "b64_json",
    }
    assert result.mapped["size"] == {"requested": "1000x700", "used": "768x512"}
    assert result.mapped["seed"] == {"requested": 1234, "used": None}


def test_generic_template_string_url_and_raw(serve: Serve) -> None:
    fake = GenericFake()
    base = serve(fake).base_url
    template = json.dumps(
        {"input": {"text": "{prompt}"}, "w": "{width}", "h": "{height}", "seed": "{seed}"}
    )
    cfg = make_config(
        "generic_http",
        base,
        path="/generate",
        body_template=template,
        response_path="output.url",
        auth_header="X-Api-Key",
        auth_prefix="",
        headers={"X-Team": "arena"},
    )
    result = get_generator(cfg).generate(make_request(width=640, height=480, seed=8))
    req = fake.last_submit
    assert req.json() == {"input": {"text": "a red fox in the snow"}, "w": 640, "h": 480, "seed": 8}
    assert req.header("x-team") == "arena"
    assert (result.used["width"], result.used["height"], result.used["seed"]) == (640, 480, 8)
    fake.outcome = "raw"
    assert get_generator(cfg).generate(make_request()).content_type == "image/png"


def test_generic_validate_config_messages() -> None:
    bad = {"body_template": "{not json", "response_type": "xml", "headers": ["x"]}
    problems = GenericHTTPGenerator.validate_config(bad)
    assert any("not valid JSON" in p for p in problems)
    assert "options.response_type must be auto, b64 or url" in problems
    assert "options.headers must be an object" in problems
    assert GenericHTTPGenerator.validate_config({"body_template": {"x": "1"}}) == [
        "options.body_template must contain the {prompt} placeholder"
    ]
    assert GenericHTTPGenerator.validate_config({}) == []


def test_generic_missing_response_path_value(serve: Serve) -> None:
    from generators.base import ProviderError

    fake = GenericFake()
    base = serve(fake).base_url
    cfg = make_config(
        "generic_http",
        base,
        path="/generate",
        response_path="result.image",
        auth_header="X-Api-Key",
        auth_prefix="",
    )
    with pytest.raises(ProviderError, match="nothing at response path"):
        get_generator(cfg).generate(make_request())
