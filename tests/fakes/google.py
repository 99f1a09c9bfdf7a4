"""Fake Gemini API: models/{m}:generateContent (Gemini image) and models/{m}:predict (Imagen)."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.server import ProviderFake, Recorded, Reply, png_bytes

ASPECT_DIMS = {
    "1:1": (64, 64),
    "16:9": (64, 36),
    "9:16": (36, 64),
    "4:3": (64, 48),
    "3:4": (48, 64),
    "3:2": (60, 40),
    "2:3": (40, 60),
    "21:9": (84, 36),
    "4:5": (48, 60),
    "5:4": (60, 48),
}


class GoogleFake(ProviderFake):
    """outcome: "ok", "prompt_blocked", "image_safety" (finishReason), "text_only",
    "no_candidates", "filtered" (Imagen: empty predictions), "rai" (Imagen raiFilteredReason).
    """

    name = "google"
    auth_header = "x-goog-api-key"
    auth_prefix = ""

    def error_reply(self, status: int, message: str) -> Reply:
        state = {
            429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL",
            503: "UNAVAILABLE",
            400: "INVALID_ARGUMENT",
        }.get(status, "UNKNOWN")
        return Reply(status, {"error": {"code": status, "message": message, "status": state}})

    def unauthorized(self) -> Reply:
        return Reply(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                    "details": [{"reason": "API_KEY_INVALID"}],
                }
            },
        )

    def route_of(self, req: Recorded) -> str:
        return "submit" if req.method == "POST" and ":" in req.path else "other"

    def handle(self, req: Recorded) -> Reply:
        if req.route != "submit":
            return self.error_reply(404, "not found")
        body = req.json()
        if req.path.endswith(":generateContent"):
            return self._gemini(body)
        if req.path.endswith(":predict"):
            return self._imagen(body)
        return self.error_reply(404, "method not found")

    def _gemini(self, body: dict[str, Any]) -> Reply:
        aspect = (body.get("generationConfig", {}).get("imageConfig") or {}).get("aspectRatio")
        w, h = ASPECT_DIMS.get(aspect or "1:1", (64, 64))
        usage = {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302}
        if self.outcome == "prompt_blocked":
            return Reply(
                200,
                {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage},
            )
        if self.outcome == "no_candidates":
            return Reply(200, {"candidates": [], "usageMetadata": usage})
        if self.outcome == "image_safety":
            return Reply(
                200,
                {
                    "candidates": [
                        {
                            "finishReason": "IMAGE_SAFETY",
                            "content": {"parts": [], "role": "model"},
                            "index": 0,
                        }
                    ],
                    "usageMetadata": usage,
                },
            )
        if self.outcome == "text_only":
            return Reply(
                200,
                {
                    "candidates": [
                        {
                            "finishReason": "STOP",
                            "content": {
                                "parts": [{"text": "I can't create that image."}],
                                "role": "model",
                            },
                        }
                    ],
                    "usageMetadata": usage,
                },
            )
        data = base64.b64encode(png_bytes(w, h, (0, 120, 120))).decode()
        parts = [
            {"text": "Here is your image."},
            {"inlineData": {"mimeType": "image/png", "data": data}},
        ]
        return Reply(
            200,
            {
                "candidates": [
                    {
                        "content": {"parts": parts, "role": "model"},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": usage,
                "modelVersion": "gemini-2.5-flash-image",
            },
        )

    def _imagen(self, body: dict[str, Any]) -> Reply:
        params = body.get("parameters") or {}
        w, h = ASPECT_DIMS.get(params.get("aspectRatio", "1:1"), (64, 64))
        if self.outcome == "filtered":
            return Reply(200, {})
        if self.outcome == "rai":
            return Reply(
                200,
                {
                    "predictions": [
                        {
                            "raiFilteredReason": "Unable to show generated "
                            "images. Safety filter triggered."
                        }
                    ]
                },
            )
        data = base64.b64encode(png_bytes(w, h, (120, 120, 0))).decode()
        n = int(params.get("sampleCount", 1))
        return Reply(
            200, {"predictions": [{"bytesBase64Encoded": data, "mimeType": "image/png"}] * n}
        )
