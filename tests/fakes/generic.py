"""Fake custom image server for generic_http: POST /generate → {"output": {...}} or raw PNG."""

from __future__ import annotations

import base64

from tests.fakes.server import ProviderFake, Recorded, Reply, edited_png, png_bytes


class GenericFake(ProviderFake):
    """Answers {"output": {"url", "b64"}, "safety": {"flagged"}}; outcome "raw" returns bytes,
    "flagged" sets safety.flagged. Auth via `X-Api-Key: <key>`."""

    name = "generic"
    auth_header = "X-Api-Key"
    auth_prefix = ""

    def __init__(self, *, api_key: str | None = "test-key") -> None:
        super().__init__(api_key=api_key)
        self.edit_images: list[bytes] = []  # decoded source images of edit requests

    def route_of(self, req: Recorded) -> str:
        return "submit" if req.method == "POST" and req.path == "/generate" else "other"

    def handle(self, req: Recorded) -> Reply:
        if req.route != "submit":
            return Reply(404, {"error": "not found"})
        body = req.json()
        w, h = int(body.get("w") or 64), int(body.get("h") or 64)
        png = png_bytes(w, h, (10, 10, 10))
        if "image" in body:  # an edit: the source image base64 in the JSON body
            try:
                source = base64.b64decode(str(body["image"]), validate=True)
            except ValueError:
                source = b""
            edited = edited_png(source)
            if edited is None:
                return Reply(400, {"error": "image is not a base64 PNG, JPEG or WebP"})
            self.edit_images.append(source)
            png = edited
        if self.outcome == "raw":
            return Reply(200, png, {"Content-Type": "image/png"})
        return Reply(
            200,
            {
                "output": {
                    "url": self.add_file(png, "image/png", ".png"),
                    "b64": base64.b64encode(png).decode(),
                },
                "safety": {"flagged": self.outcome == "flagged"},
            },
        )
