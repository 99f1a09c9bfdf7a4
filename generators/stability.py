"""Stability AI v2beta stable-image generate (ultra/core/sd3): multipart form, image or JSON out."""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from generators.base import (
    GenerationRequest,
    GenerationResult,
    GeneratorError,
    ModerationRefused,
    ProviderConfig,
    ProviderError,
)
from generators.http import HttpClient, error_text, json_body
from generators.remote import RemoteGenerator, decode_b64, image_result
from generators.sizing import aspect_label, nearest_aspect, note, target_ratio

ASPECTS = ["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"]
ENDPOINTS = ("ultra", "core", "sd3")
MAX_SEED = 4_294_967_294


class StabilityGenerator(RemoteGenerator):
    """kind "stability": model_id "ultra", "core", "sd3" or an sd3 model like "sd3.5-large".

    options: endpoint (overrides the one derived from model_id), accept ("json" default, or
    "image" for raw bytes + finish-reason/seed headers), negative_prompt, style_preset.
    """

    kind: ClassVar[str] = "stability"
    default_base_url: ClassVar[str] = "https://api.stability.ai"
    default_model: ClassVar[str] = "core"

    @classmethod
    def check_options(cls, config: ProviderConfig, *, partial: bool) -> list[str]:
        problems = []
        if config.options.get("endpoint") not in (None, *ENDPOINTS):
            problems.append(f"options.endpoint must be one of {', '.join(ENDPOINTS)}")
        if config.options.get("accept") not in (None, "json", "image"):
            problems.append("options.accept must be json or image")
        return problems

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        if response.status_code in (400, 403):
            text = error_text(response)
            try:
                name = str(response.json().get("name", ""))
            except (ValueError, AttributeError):
                name = ""
            if name == "content_moderation" or "moderation" in text.lower():
                return ModerationRefused(f"{self.kind}: refused by moderation: {text}")
        return None

    def endpoint(self) -> tuple[str, str | None]:
        """(endpoint, sd3 model field or None)."""
        model = self.model
        endpoint = self.opt("endpoint")
        if endpoint:
            return str(endpoint), None if model in ENDPOINTS else model
        if model in ENDPOINTS:
            return model, None
        return "sd3", model

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
        endpoint, sd3_model = self.endpoint()
        seed = request.seed % (MAX_SEED + 1)
        note(mapped, "seed", request.seed, seed)
        fields: dict[str, Any] = {
            "prompt": request.prompt,
            "seed": str(seed),
            "output_format": self.opt("output_format", "png"),
        }
        used: dict[str, Any] = {"model": sd3_model or endpoint, "seed": seed}
        ratio = target_ratio(request)
        if ratio is not None:
            aspect = nearest_aspect(ratio, ASPECTS)
            fields["aspect_ratio"] = aspect
            used["aspect_ratio"] = aspect
            requested = request.aspect_ratio or aspect_label(
                request.width or 1, request.height or 1
            )
            note(mapped, "aspect_ratio", requested, aspect)
        if sd3_model:
            fields["model"] = sd3_model
        for name in ("negative_prompt", "style_preset"):
            if self.opt(name):
                fields[name] = str(self.opt(name))
        if request.quality:
            mapped["quality"] = {"requested": request.quality, "used": None}
        as_json = self.opt("accept", "json") == "json"
        files = {k: (None, str(v)) for k, v in fields.items()}
        response = http.request(
            "POST",
            f"{self.base_url}/v2beta/stable-image/generate/{endpoint}",
            files=files,
            headers={"Accept": "application/json" if as_json else "image/*"},
            ok=(200,),
        )
        if as_json:
            payload = json_body(response, self.kind)
            finish = str(payload.get("finish_reason") or "SUCCESS")
            image = payload.get("image")
            reported_seed = payload.get("seed")
        else:
            finish = response.headers.get("finish-reason", "SUCCESS")
            image = None
            reported_seed = response.headers.get("seed")
        if finish == "CONTENT_FILTERED":
            raise ModerationRefused(f"{self.kind}: finish_reason CONTENT_FILTERED")
        if finish not in ("SUCCESS", ""):
            raise ProviderError(f"{self.kind}: finish_reason {finish}")
        if reported_seed not in (None, ""):
            used["seed"] = int(reported_seed)
        if as_json:
            if not image:
                raise ProviderError(f"{self.kind}: JSON response without image")
            data = decode_b64(image, self.kind)
        else:
            data = response.content
        return image_result(data, self.kind, used=used, mapped=mapped)
