"""Black Forest Labs FLUX API: submit → poll the returned polling_url → download the sample.

The signed `result.sample` URL expires after ~10 minutes, so it is downloaded immediately.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar
from urllib.parse import urljoin

from generators.base import (
    GenerationRequest,
    GenerationResult,
    ModerationRefused,
    ProviderError,
)
from generators.http import HttpClient
from generators.remote import RemoteGenerator, image_result
from generators.sizing import (
    aspect_label,
    fit_dims,
    nearest_aspect,
    note,
    requested_dims,
    requested_label,
    size_str,
    target_ratio,
)

KONTEXT_ASPECTS = ["21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21"]
MODERATED = {"Request Moderated": "input", "Content Moderated": "output"}
FAILED = {"Error", "Task not found", "Failed"}


class BFLGenerator(RemoteGenerator):
    """kind "bfl": POST /v1/{model} with x-key, then GET polling_url until Ready."""

    kind: ClassVar[str] = "bfl"
    default_base_url: ClassVar[str] = "https://api.bfl.ai"
    default_model: ClassVar[str] = "flux-pro-1.1"
    # FLUX Kontext (flux-kontext-pro/max) and FLUX.2 edit an `input_image`; use one of those
    # models for a contender of an image_edit arena
    supports_edit: ClassVar[bool] = True
    # polling_url points at a regional host (api.eu1.bfl.ai, api.us1.bfl.ai) that needs x-key
    provider_domains: ClassVar[tuple[str, ...]] = ("bfl.ai",)

    def auth_headers(self) -> dict[str, str]:
        return {"x-key": self.config.api_key}

    def size_rules(self) -> dict[str, Any]:
        """FLUX.2: multiples of 16 up to 4 MP; FLUX 1.x: multiples of 32 in 256–1440."""
        model = self.model.lower()
        if model.startswith("flux-2"):
            return {"multiple": 16, "min_side": 64, "max_side": 4096, "max_pixels": 4_194_304}
        return {"multiple": 32, "min_side": 256, "max_side": 1440}

    def build_body(
        self, request: GenerationRequest, mapped: dict[str, dict[str, object]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "seed": request.seed,
            "output_format": self.opt("output_format", "png"),
        }
        used: dict[str, Any] = {"model": self.model, "seed": request.seed}
        if "kontext" in self.model.lower() or self.opt("size_mode") == "aspect_ratio":
            ratio = target_ratio(request) or 1.0
            aspect = nearest_aspect(ratio, self.opt("aspect_ratios") or KONTEXT_ASPECTS)
            body["aspect_ratio"] = aspect
            used["aspect_ratio"] = aspect
            requested = request.aspect_ratio or (
                aspect_label(request.width, request.height)
                if request.width and request.height
                else None
            )
            note(mapped, "aspect_ratio", requested, aspect)
        else:
            dims = requested_dims(request) or (1024, 1024)
            w, h = fit_dims(*dims, **self.size_rules())
            body["width"], body["height"] = w, h
            note(mapped, "size", requested_label(request), size_str(w, h))
        if request.source_image is not None:
            # FLUX Kontext (and FLUX.2) image editing: the source as base64 in the JSON body
            body["input_image"] = base64.b64encode(request.source_image).decode("ascii")
            used["edit"] = True
        tolerance = self.opt("safety_tolerance")
        if tolerance is not None:
            body["safety_tolerance"] = int(tolerance)
        if self.opt("prompt_upsampling") is not None:
            body["prompt_upsampling"] = bool(self.opt("prompt_upsampling"))
        extra = self.opt("extra_body")
        if isinstance(extra, dict):
            body.update(extra)
        return body, used

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
        body, used = self.build_body(request, mapped)
        submitted = http.post_json(f"{self.base_url}/v1/{self.model}", body)
        job_id = submitted.get("id")
        polling_url = submitted.get("polling_url")
        if not polling_url:
            if not job_id:
                raise ProviderError(f"bfl: submit returned no id/polling_url: {submitted}")
            polling_url = f"{self.base_url}/v1/get_result?id={job_id}"
        polling_url = urljoin(self.base_url + "/", polling_url)
        used["job_id"] = job_id

        def check() -> dict[str, Any] | None:
            status = http.get_json(polling_url)
            state = status.get("status")
            if state == "Ready":
                return status
            if state in MODERATED:
                raise ModerationRefused(f"bfl: {state} ({MODERATED[state]} flagged)")
            if state in FAILED:
                detail = status.get("details") or status.get("error") or status.get("result")
                raise ProviderError(f"bfl: job {job_id} {state}: {detail}")
            return None

        ready = http.poll(check, what=f"bfl job {job_id}")
        result = ready.get("result") or {}
        sample = result.get("sample") if isinstance(result, dict) else None
        if not sample:
            raise ProviderError(f"bfl: Ready without result.sample: {ready}")
        data = self.download_image(http, sample).data
        if isinstance(result, dict) and result.get("seed") is not None:
            used["seed"] = result["seed"]
        # BFL bills in credits, not USD: cost comes from config.cost_per_output only
        return image_result(data, self.kind, used=used, mapped=mapped)
