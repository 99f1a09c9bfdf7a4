"""Fake Stability AI v2beta stable-image generate (multipart in; image/* or JSON out)."""

from __future__ import annotations

import base64

from tests.fakes.server import ProviderFake, Recorded, Reply, png_bytes

ASPECT_DIMS = {
    "16:9": (64, 36),
    "1:1": (64, 64),
    "21:9": (84, 36),
    "2:3": (40, 60),
    "3:2": (60, 40),
    "4:5": (48, 60),
    "5:4": (60, 48),
    "9:16": (36, 64),
    "9:21": (36, 84),
}


class StabilityFake(ProviderFake):
    """outcome: "ok", "filtered" (finish_reason CONTENT_FILTERED), "moderation" (403)."""

    name = "stability"

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"id": "e1", "name": "error", "errors": [message]})

    def unauthorized(self) -> Reply:
        return Reply(
            401,
            {
                "id": "e2",
                "name": "unauthorized",
                "errors": ["authorization: invalid or missing API key"],
            },
        )

    def route_of(self, req: Recorded) -> str:
        return "submit" if req.path.startswith("/v2beta/stable-image/generate/") else "other"

    def handle(self, req: Recorded) -> Reply:
        if req.route != "submit" or req.method != "POST":
            return self.error_reply(404, "not found")
        if not (req.header("content-type") or "").startswith("multipart/form-data"):
            return self.error_reply(400, "multipart/form-data is required")
        form = req.form()
        if not form.get("prompt"):
            return self.error_reply(400, "prompt: is required")
        if self.outcome == "moderation":
            return Reply(
                403,
                {
                    "id": "e3",
                    "name": "content_moderation",
                    "errors": [
                        "Your request was flagged by our content moderation "
                        "system, as a result your request was denied."
                    ],
                },
            )
        seed = int(form.get("seed") or 0) or 987654
        w, h = ASPECT_DIMS.get(form.get("aspect_ratio", "1:1"), (64, 64))
        png = png_bytes(w, h, (90, 0, 90))
        finish = "CONTENT_FILTERED" if self.outcome == "filtered" else "SUCCESS"
        if (req.header("accept") or "").startswith("image/"):
            return Reply(
                200, png, {"Content-Type": "image/png", "finish-reason": finish, "seed": str(seed)}
            )
        return Reply(
            200, {"image": base64.b64encode(png).decode(), "finish_reason": finish, "seed": seed}
        )
