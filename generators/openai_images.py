"""OpenAI Images API (gpt-image-*, dall-e-*): synchronous POST /images/generations.

Also the base of `azure_openai` (same body, different URL and auth) and of self-hosted servers
speaking the OpenAI images format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import requests

from generators.base import (
    GenerationRequest,
    GenerationResult,
    GeneratorError,
    ModerationRefused,
    ProviderError,
)
from generators.http import HttpClient, error_text, json_body
from generators.remote import RemoteGenerator, decode_b64, image_result
from generators.sizing import (
    nearest_size,
    note,
    requested_dims,
    requested_label,
    size_list,
    size_str,
)

GPT_IMAGE_SIZES = [(1024, 1024), (1536, 1024), (1024, 1536)]
DALLE3_SIZES = [(1024, 1024), (1792, 1024), (1024, 1792)]
DALLE2_SIZES = [(256, 256), (512, 512), (1024, 1024)]

GPT_IMAGE_QUALITY = {
    "low": "low",
    "medium": "medium",
    "standard": "medium",
    "high": "high",
    "hd": "high",
    "auto": "auto",
}
DALLE3_QUALITY = {
    "low": "standard",
    "medium": "standard",
    "standard": "standard",
    "high": "hd",
    "hd": "hd",
    "auto": "standard",
}

MODERATION_CODES = frozenset(
    {
        "moderation_blocked",
        "content_policy_violation",
        "content_filter",
        "contentfilter",
        "responsibleaipolicyviolation",
    }
)


def openai_error_hook(provider: str, response: requests.Response) -> GeneratorError | None:
    """OpenAI/Azure report refusals as HTTP 400 with a moderation error code."""
    if response.status_code not in (400, 403, 422):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None
    codes = {str(err.get("code") or "").lower(), str(err.get("type") or "").lower()}
    inner = err.get("innererror")
    if isinstance(inner, dict):
        codes.add(str(inner.get("code") or "").lower())
    if codes & MODERATION_CODES:
        return ModerationRefused(f"{provider}: refused by moderation: {error_text(response)}")
    return None


class OpenAIImagesGenerator(RemoteGenerator):
    """kind "openai_images": api.openai.com (or a compatible server) /v1/images/generations."""

    kind: ClassVar[str] = "openai_images"
    supports_edit: ClassVar[bool] = True  # POST /images/edits
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    default_model: ClassVar[str] = "gpt-image-1"

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        return openai_error_hook(self.kind, response)

    def endpoint(self) -> str:
        return self.base_url + str(self.opt("path", "/images/generations"))

    def family(self) -> str:
        model = self.model.lower()
        if model.startswith("dall-e-3"):
            return "dall-e-3"
        if model.startswith("dall-e-2"):
            return "dall-e-2"
        return "gpt-image"

    def sizes(self) -> list[tuple[int, int]]:
        configured = size_list(self.opt("sizes"))
        if configured:
            return configured
        return {"dall-e-3": DALLE3_SIZES, "dall-e-2": DALLE2_SIZES}.get(
            self.family(), GPT_IMAGE_SIZES
        )

    def send_model(self) -> bool:
        return True

    def build_body(
        self, request: GenerationRequest, mapped: dict[str, dict[str, object]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON body and the `used` dict (what we asked the provider for)."""
        family = self.family()
        body: dict[str, Any] = {"prompt": request.prompt, "n": 1}
        used: dict[str, Any] = {"model": self.model}
        if self.send_model():
            body["model"] = self.model
        dims = requested_dims(request)
        size = nearest_size(*dims, self.sizes()) if dims else self.sizes()[0]
        body["size"] = size_str(*size)
        used["size"] = body["size"]
        note(mapped, "size", requested_label(request), body["size"])
        quality = request.quality or self.opt("quality")
        if quality:
            table = GPT_IMAGE_QUALITY if family == "gpt-image" else DALLE3_QUALITY
            q = table.get(str(quality).lower()) if family != "dall-e-2" else None
            if q:
                body["quality"] = q
                used["quality"] = q
            note(mapped, "quality", request.quality, q)
        # no seed parameter in the OpenAI images API
        note(mapped, "seed", request.seed, None)
        used["seed"] = None
        if family == "gpt-image":
            body["output_format"] = self.opt("output_format", "png")
            if self.opt("moderation"):
                body["moderation"] = self.opt("moderation")
        else:
            body["response_format"] = self.opt("response_format", "b64_json")
        extra = self.opt("extra_body")
        if isinstance(extra, dict):
            body.update(extra)
        return body, used

    def edit_endpoint(self) -> str:
        return self.base_url + str(self.opt("edit_path", "/images/edits"))

    def _edit(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        """POST /images/edits: the same fields as a generation, as a multipart form with the
        source image in `image` (the arena sends PNG)."""
        mapped: dict[str, dict[str, object]] = {}
        body, used = self.build_body(request, mapped)
        used["edit"] = True
        payload = post_edit_form(
            self, http, self.edit_endpoint(), body, request.source_image, params=self.params()
        )
        return self.parse_images(payload, http, used, mapped)

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        if request.source_image is not None:
            return self._edit(request, http)
        mapped: dict[str, dict[str, object]] = {}
        body, used = self.build_body(request, mapped)
        response = http.request("POST", self.endpoint(), json=body, params=self.params())
        return self.parse_images(json_body(response, self.kind), http, used, mapped)

    def params(self) -> dict[str, str] | None:
        return None

    def parse_images(
        self,
        payload: Any,
        http: HttpClient,
        used: dict[str, Any],
        mapped: dict[str, dict[str, object]],
    ) -> GenerationResult:
        return parse_openai_images(self, payload, http, used, mapped)


def post_edit_form(
    gen: RemoteGenerator,
    http: HttpClient,
    url: str,
    fields: Mapping[str, object],
    source: bytes | None,
    *,
    params: dict[str, str] | None = None,
) -> Any:
    """POST an OpenAI-format images/edits request (OpenAI, Azure, Foundry MAI): a multipart
    form of the scalar `fields` plus the source PNG in `image`; returns the decoded JSON."""
    form = {
        name: str(value) for name, value in fields.items() if not isinstance(value, dict | list)
    }
    files = {"image": ("image.png", source or b"", "image/png")}
    response = http.request("POST", url, data=form, files=files, params=params)
    return json_body(response, gen.kind)


def parse_openai_images(
    gen: RemoteGenerator,
    payload: Any,
    http: HttpClient,
    used: dict[str, Any],
    mapped: dict[str, dict[str, object]],
) -> GenerationResult:
    """Read `data[0]` (b64_json or url) and token usage from an OpenAI-format images response."""
    kind = gen.kind
    items = payload.get("data") if isinstance(payload, dict) else None
    if not items:
        raise ProviderError(f"{kind}: response has no data[]: {str(payload)[:300]}")
    item = items[0]
    if item.get("b64_json"):
        data = decode_b64(item["b64_json"], kind)
    elif item.get("url"):
        data = gen.download_image(http, item["url"]).data
    else:
        raise ProviderError(f"{kind}: data[0] has neither b64_json nor url")
    if item.get("revised_prompt"):
        used["revised_prompt"] = item["revised_prompt"]
    cost = None
    usage = payload.get("usage")
    if isinstance(usage, dict):
        used["usage"] = usage
        cost = gen.usage_cost(usage.get("input_tokens"), usage.get("output_tokens"))
    return image_result(data, kind, used=used, mapped=mapped, cost=cost)
