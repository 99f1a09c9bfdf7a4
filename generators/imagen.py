"""Google Imagen via the Gemini API :predict endpoint."""

from __future__ import annotations

from typing import Any, ClassVar

from generators.base import GenerationRequest, GenerationResult, ModerationRefused
from generators.gemini_image import GoogleGenerator, map_aspect
from generators.http import HttpClient
from generators.remote import decode_b64, image_result
from generators.sizing import note

IMAGEN_ASPECTS = ["1:1", "3:4", "4:3", "9:16", "16:9"]


class ImagenGenerator(GoogleGenerator):
    """kind "imagen": POST {base}/models/{model}:predict with instances/parameters.

    options: image_size ("1K"/"2K"), person_generation, send_seed (Vertex only; default false),
    auth, path.
    """

    kind: ClassVar[str] = "imagen"
    default_model: ClassVar[str] = "imagen-4.0-generate-001"

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
        used: dict[str, Any] = {"model": self.model}
        params: dict[str, Any] = {"sampleCount": 1}
        aspect = map_aspect(self, request, IMAGEN_ASPECTS, mapped)
        if aspect:
            params["aspectRatio"] = aspect
            used["aspect_ratio"] = aspect
        if self.opt("image_size"):
            params["sampleImageSize"] = str(self.opt("image_size"))
        if self.opt("person_generation"):
            params["personGeneration"] = str(self.opt("person_generation"))
        if self.opt("send_seed"):
            params["seed"] = request.seed
            params["addWatermark"] = False
            used["seed"] = request.seed
        else:
            used["seed"] = None
            note(mapped, "seed", request.seed, None)
        path = str(self.opt("path", "/models/{model}:predict")).format(model=self.model)
        payload = http.post_json(
            self.base_url + path,
            {"instances": [{"prompt": request.prompt}], "parameters": params},
            ok=(200,),
        )
        predictions = [p for p in payload.get("predictions") or [] if isinstance(p, dict)]
        images = [p for p in predictions if p.get("bytesBase64Encoded")]
        if not images:
            reasons = [
                str(p.get("raiFilteredReason")) for p in predictions if p.get("raiFilteredReason")
            ]
            why = "; ".join(reasons) or "all samples filtered (empty predictions)"
            raise ModerationRefused(f"{self.kind}: {why}")
        data = decode_b64(images[0]["bytesBase64Encoded"], self.kind)
        return image_result(data, self.kind, used=used, mapped=mapped)
