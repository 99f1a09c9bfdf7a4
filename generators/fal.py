"""fal.ai queue: submit → poll status_url (202 while pending) → GET response_url → download."""

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
from generators.sizing import (
    fit_dims,
    nearest_size,
    note,
    requested_dims,
    requested_label,
    size_str,
)
from generators.video import check_video

IMAGE_SIZE_ENUM = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
PENDING = {"IN_QUEUE", "IN_PROGRESS"}


class FalGenerator(RemoteGenerator):
    """kind "fal": model_id like "fal-ai/flux/dev" (a subpath is allowed).

    options: size_param ("image_size" {width,height} default, "image_size_enum", "none"),
    input_defaults, enable_safety_checker (default true), output_format.
    """

    kind: ClassVar[str] = "fal"
    default_base_url: ClassVar[str] = "https://queue.fal.run"
    modalities: ClassVar[tuple[str, ...]] = ("image", "video")

    @classmethod
    def check_options(cls, config: ProviderConfig, *, partial: bool) -> list[str]:
        if not partial and not config.model_id:
            return ["fal needs the contender's model_id (e.g. fal-ai/flux/dev)"]
        return []

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.config.api_key}"}

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        if response.status_code == 422:
            text = error_text(response)
            if any(h in text.lower() for h in ("content_policy", "nsfw", "safety", "moderat")):
                return ModerationRefused(f"{self.kind}: refused: {text}")
        return None

    def build_input(
        self, request: GenerationRequest, mapped: dict[str, dict[str, object]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        inp: dict[str, Any] = {"prompt": request.prompt, "seed": request.seed}
        used: dict[str, Any] = {"model": self.model, "seed": request.seed}
        mode = self.opt("size_param", "image_size")
        if request.modality == "image":
            dims = requested_dims(request) or (1024, 1024)
            if mode == "image_size":
                w, h = fit_dims(
                    *dims,
                    multiple=16,
                    min_side=256,
                    max_pixels=int(self.opt("max_pixels", 2048 * 2048)),
                )
                inp["image_size"] = {"width": w, "height": h}
                note(mapped, "size", requested_label(request), size_str(w, h))
            elif mode == "image_size_enum":
                size = nearest_size(*dims, list(IMAGE_SIZE_ENUM.values()))
                name = next(k for k, v in IMAGE_SIZE_ENUM.items() if v == size)
                inp["image_size"] = name
                note(mapped, "size", requested_label(request), size_str(*size))
            inp["num_images"] = 1
            inp["output_format"] = self.opt("output_format", "png")
            inp["enable_safety_checker"] = bool(self.opt("enable_safety_checker", True))
        elif request.duration_s and self.opt("duration_param"):
            inp[str(self.opt("duration_param"))] = request.duration_s
            used["duration_s"] = request.duration_s
        defaults = self.opt("input_defaults")
        if isinstance(defaults, dict):
            inp = {**defaults, **inp}
        return inp, used

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
        inp, used = self.build_input(request, mapped)
        submitted = http.post_json(f"{self.base_url}/{self.model}", inp)
        req_id = submitted.get("request_id")
        used["request_id"] = req_id
        app = "/".join(self.model.split("/")[:2])
        status_url = (
            submitted.get("status_url") or f"{self.base_url}/{app}/requests/{req_id}/status"
        )
        response_url = submitted.get("response_url") or f"{self.base_url}/{app}/requests/{req_id}"

        def check() -> dict[str, Any] | None:
            state = json_body(http.request("GET", status_url, ok=(200, 202)), self.kind)
            status = state.get("status")
            if status in PENDING:
                return None
            if status == "COMPLETED":
                if state.get("error"):
                    raise ProviderError(f"{self.kind}: request {req_id} failed: {state['error']}")
                return state
            raise ProviderError(f"{self.kind}: request {req_id} has status {status!r}")

        state = http.poll(check, what=f"request {req_id}")
        inference = (state.get("metrics") or {}).get("inference_time")
        if inference is not None:
            used["inference_time_s"] = inference
        output = http.get_json(response_url)
        nsfw = output.get("has_nsfw_concepts")
        if isinstance(nsfw, list) and nsfw and nsfw[0]:
            raise ModerationRefused(
                f"{self.kind}: output flagged by the safety checker (has_nsfw_concepts)"
            )
        if output.get("seed") is not None:
            used["seed"] = output["seed"]
        if request.modality == "video":
            url = (output.get("video") or {}).get("url")
            if not url:
                raise ProviderError(f"{self.kind}: result has no video.url")
            data = (
                decode_b64(url, self.kind)
                if url.startswith("data:")
                else self.download_video(http, url).data
            )
            return GenerationResult(
                content_type=check_video(data, self.kind), data=data, used=used, mapped=mapped
            )
        images = output.get("images") or []
        url = images[0].get("url") if images else None
        if not url:
            raise ProviderError(f"{self.kind}: result has no images[0].url")
        data = (
            decode_b64(url, self.kind)
            if url.startswith("data:")
            else self.download_image(http, url).data
        )
        return image_result(data, self.kind, used=used, mapped=mapped)
