"""Microsoft Foundry MAI image models: POST /mai/v1/images/generations with explicit width/height,
and POST /mai/v1/images/edits (multipart: model, prompt, the source PNG in `image`).

Each generated side must be at least 768 px and the area at most 1,048,576 px; output is always
PNG. An edit follows the source image's shape, so it sends no size.
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from generators.base import GenerationRequest, GenerationResult, GeneratorError
from generators.http import HttpClient, json_body
from generators.openai_images import openai_error_hook, parse_openai_images, post_edit_form
from generators.remote import RemoteGenerator
from generators.sizing import fit_dims, note, requested_dims, requested_label, size_str

MIN_SIDE = 768
MAX_PIXELS = 1_048_576
# the widest ratio whose short side can be 768 within the pixel budget
MAX_RATIO = MAX_PIXELS / MIN_SIDE**2


def mai_dims(w: int, h: int) -> tuple[int, int]:
    """Nearest (w, h) with both sides ≥ 768 and w·h ≤ 1,048,576, keeping the aspect ratio."""
    return fit_dims(w, h, multiple=8, min_side=MIN_SIDE, max_pixels=MAX_PIXELS, max_ratio=MAX_RATIO)


class MAIImageGenerator(RemoteGenerator):
    """kind "mai_image": {resource}.services.ai.azure.com/mai/v1/images/generations.

    options: deployment (defaults to the contender's model_id), auth ("api-key" or "bearer"),
    path, edit_path.
    """

    kind: ClassVar[str] = "mai_image"
    supports_edit: ClassVar[bool] = True  # POST /mai/v1/images/edits
    default_model: ClassVar[str] = "MAI-Image-1"

    def auth_headers(self) -> dict[str, str]:
        if str(self.opt("auth", "api-key")).lower() == "bearer":
            return {"Authorization": f"Bearer {self.config.api_key}"}
        return {"api-key": self.config.api_key}

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        return openai_error_hook(self.kind, response)

    @property
    def deployment(self) -> str:
        return str(self.opt("deployment") or self.model)

    def _edit(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        """The edit form: model, prompt and the source image; the output keeps the source's
        shape (a requested size or seed is noted as not honoured)."""
        mapped: dict[str, dict[str, object]] = {}
        note(mapped, "size", requested_label(request), None)
        note(mapped, "seed", request.seed, None)
        fields = {"model": self.deployment, "prompt": request.prompt}
        used: dict[str, Any] = {"model": self.deployment, "seed": None, "edit": True}
        url = self.base_url + str(self.opt("edit_path", "/mai/v1/images/edits"))
        payload = post_edit_form(self, http, url, fields, request.source_image)
        return parse_openai_images(self, payload, http, used, mapped)

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        if request.source_image is not None:
            return self._edit(request, http)
        mapped: dict[str, dict[str, object]] = {}
        dims = requested_dims(request) or (1024, 1024)
        w, h = mai_dims(*dims)
        note(mapped, "size", requested_label(request), size_str(w, h))
        note(mapped, "seed", request.seed, None)
        deployment = self.deployment
        body: dict[str, Any] = {
            "model": deployment,
            "prompt": request.prompt,
            "width": w,
            "height": h,
        }
        used: dict[str, Any] = {"model": deployment, "seed": None}
        url = self.base_url + str(self.opt("path", "/mai/v1/images/generations"))
        payload = json_body(http.request("POST", url, json=body), self.kind)
        return parse_openai_images(self, payload, http, used, mapped)
