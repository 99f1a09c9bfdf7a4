"""Fake custom server for generic_http: POST /generate → {"output": {...}} or raw PNG;
POST /video → the same shape with a real MP4 (tiny.mp4), or the clip itself."""

from __future__ import annotations

import base64

from tests.fakes.server import ProviderFake, Recorded, Reply, edited_png, mp4_bytes, png_bytes


class GenericFake(ProviderFake):
    """Answers {"output": {"url", "b64"}, "safety": {"flagged"}}; outcome "raw" returns bytes,
    "flagged" sets safety.flagged, "wrong_type" answers a video request with a PNG labelled
    image/png. `video_url` replaces the URL a video answer hands back (guard tests). Auth via
    `X-Api-Key: <key>`."""

    name = "generic"
    auth_header = "X-Api-Key"
    auth_prefix = ""

    def __init__(self, *, api_key: str | None = "test-key") -> None:
        super().__init__(api_key=api_key)
        self.edit_images: list[bytes] = []  # decoded source images of edit requests
        self.video_url: str | None = None

    def route_of(self, req: Recorded) -> str:
        if req.method == "POST" and req.path in ("/generate", "/video"):
            return "submit"
        return "other"

    def handle(self, req: Recorded) -> Reply:
        if req.route != "submit":
            return Reply(404, {"error": "not found"})
        if req.path == "/video":
            return self.handle_video()
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
        return self.answer(png, "image/png", ".png")

    def handle_video(self) -> Reply:
        clip = mp4_bytes()  # 64×64, 8 fps, 1 s, whatever was asked: the arena normalises it
        if self.outcome == "raw":
            return Reply(200, clip, {"Content-Type": "video/mp4"})
        if self.outcome == "wrong_type":
            return Reply(200, png_bytes(), {"Content-Type": "image/png"})
        return self.answer(clip, "video/mp4", ".mp4", url=self.video_url)

    def answer(self, data: bytes, content_type: str, suffix: str, url: str | None = None) -> Reply:
        return Reply(
            200,
            {
                "output": {
                    "url": url or self.add_file(data, content_type, suffix),
                    "b64": base64.b64encode(data).decode(),
                },
                "safety": {"flagged": self.outcome == "flagged"},
            },
        )
