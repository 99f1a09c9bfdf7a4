"""Google Gemini image generation (generateContent with IMAGE response modality)."""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from generators.base import (
    BadConfiguration,
    GenerationRequest,
    GenerationResult,
    GeneratorError,
    ModerationRefused,
    ProviderError,
)
from generators.http import HttpClient, error_text
from generators.remote import RemoteGenerator, decode_b64, image_result
from generators.sizing import aspect_label, nearest_aspect, note, target_ratio

GEMINI_ASPECTS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
OK_FINISH = {"STOP", "FINISH_REASON_UNSPECIFIED", "MAX_TOKENS", ""}


def google_auth(gen: RemoteGenerator) -> dict[str, str]:
    """API key header, or an OAuth bearer token (Vertex) when options.auth == "bearer"."""
    if str(gen.opt("auth", "api-key")).lower() == "bearer":
        return {"Authorization": f"Bearer {gen.config.api_key}"}
    return {"x-goog-api-key": gen.config.api_key}


def google_error_hook(provider: str, response: requests.Response) -> GeneratorError | None:
    """Google answers a bad API key with 400 INVALID_ARGUMENT / API_KEY_INVALID."""
    if response.status_code == 400 and "API_KEY_INVALID" in response.text:
        return BadConfiguration(f"{provider}: API key rejected: {error_text(response)}")
    return None


def map_aspect(
    gen: RemoteGenerator,
    request: GenerationRequest,
    choices: list[str],
    mapped: dict[str, dict[str, object]],
) -> str | None:
    ratio = target_ratio(request)
    if ratio is None:
        return None
    aspect = nearest_aspect(ratio, gen.opt("aspect_ratios") or choices)
    requested = request.aspect_ratio or aspect_label(request.width or 1, request.height or 1)
    note(mapped, "aspect_ratio", requested, aspect)
    return aspect


class GoogleGenerator(RemoteGenerator):
    """What Google's generative-language endpoints share: base URL, auth and key errors."""

    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com/v1beta"

    def auth_headers(self) -> dict[str, str]:
        return google_auth(self)

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        return google_error_hook(self.kind, response)


class GeminiImageGenerator(GoogleGenerator):
    """kind "gemini_image": POST {base}/models/{model}:generateContent.

    options: image_size ("1K"/"2K"/"4K" on newer models), send_seed (default true),
    auth ("api-key" default or "bearer" for Vertex with a full base URL), path.
    """

    kind: ClassVar[str] = "gemini_image"
    default_model: ClassVar[str] = "gemini-2.5-flash-image"

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
        used: dict[str, Any] = {"model": self.model}
        image_config: dict[str, Any] = {}
        aspect = map_aspect(self, request, GEMINI_ASPECTS, mapped)
        if aspect:
            image_config["aspectRatio"] = aspect
            used["aspect_ratio"] = aspect
        if self.opt("image_size"):
            image_config["imageSize"] = str(self.opt("image_size"))
        gen_config: dict[str, Any] = {"responseModalities": ["IMAGE"]}
        if image_config:
            gen_config["imageConfig"] = image_config
        if self.opt("send_seed", True):
            gen_config["seed"] = request.seed
            used["seed"] = request.seed
        else:
            used["seed"] = None
            note(mapped, "seed", request.seed, None)
        body = {
            "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
            "generationConfig": gen_config,
        }
        path = str(self.opt("path", "/models/{model}:generateContent")).format(model=self.model)
        payload = http.post_json(self.base_url + path, body, ok=(200,))
        feedback = payload.get("promptFeedback") or {}
        if feedback.get("blockReason"):
            raise ModerationRefused(f"{self.kind}: prompt blocked ({feedback['blockReason']})")
        candidates = payload.get("candidates") or []
        if not candidates:
            raise ModerationRefused(f"{self.kind}: no candidates returned")
        cand = candidates[0]
        finish = str(cand.get("finishReason") or "")
        parts = (cand.get("content") or {}).get("parts") or []
        image_part = None
        texts: list[str] = []
        for part in parts:
            inline = part.get("inlineData") or part.get("inline_data")
            if inline and inline.get("data") and image_part is None:
                image_part = inline
            elif part.get("text"):
                texts.append(str(part["text"]))
        if image_part is None:
            said = f"; model said: {' '.join(texts)[:300]}" if texts else ""
            reason = finish or "no image part"
            raise ModerationRefused(f"{self.kind}: no image returned ({reason}){said}")
        if finish not in OK_FINISH:
            raise ModerationRefused(f"{self.kind}: candidate finished with {finish}")
        data = decode_b64(image_part["data"], self.kind)
        cost = None
        usage = payload.get("usageMetadata")
        if isinstance(usage, dict):
            used["usage"] = usage
            cost = self.usage_cost(usage.get("promptTokenCount"), usage.get("candidatesTokenCount"))
        if not data:
            raise ProviderError(f"{self.kind}: empty image data")
        return image_result(data, self.kind, used=used, mapped=mapped, cost=cost)
