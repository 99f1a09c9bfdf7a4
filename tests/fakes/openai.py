"""Fakes for the OpenAI-format image APIs (OpenAI, Azure OpenAI, Foundry MAI) and Sora 2."""

from __future__ import annotations

import base64
import time
from typing import Any

from tests.fakes.server import ProviderFake, Recorded, Reply, edited_png, mp4_bytes, png_bytes


class OpenAIImagesFake(ProviderFake):
    """POST …/images/generations (OpenAI /v1, Azure deployments, MAI /mai/v1).

    outcome: "ok" (base64, or a URL when the body asks response_format=url or `url_mode`),
    "moderation" (400 moderation_blocked; Azure style content_filter when `azure`),
    "empty" (200 with data: []).
    `mai=True` is Foundry MAI (implies the `api-key` header): its edit form must hold exactly
    `model`, `prompt` and the `image` file; any other field (size, seed, ...) is a 400.
    """

    name = "openai_images"

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        azure: bool = False,
        mai: bool = False,
        url_mode: bool = False,
        usage: bool = True,
    ) -> None:
        super().__init__(api_key=api_key)
        self.azure = azure or mai
        self.mai = mai
        self.url_mode = url_mode
        self.usage = usage
        self.edit_images: list[bytes] = []  # the source images the edit endpoint received
        if self.azure:
            self.auth_header, self.auth_prefix = "api-key", ""

    def unauthorized(self) -> Reply:
        if self.azure:
            return Reply(
                401,
                {
                    "error": {
                        "code": "401",
                        "message": "Access denied due to invalid "
                        "subscription key or wrong API endpoint.",
                    }
                },
            )
        return Reply(
            401,
            {
                "error": {
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )

    def error_reply(self, status: int, message: str) -> Reply:
        kind = {429: "rate_limit_exceeded", 500: "server_error"}.get(status, "invalid_request")
        return Reply(
            status, {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        )

    def route_of(self, req: Recorded) -> str:
        if req.path.endswith("/images/edits"):
            return "edit"
        return "submit" if req.path.endswith("/images/generations") else "other"

    def edit(self, req: Recorded) -> Reply:
        """POST …/images/edits (multipart): `image` must be a real image and `prompt` set;
        answers the image inverted, at its own size."""
        fields, files = req.form(), req.files()
        if not fields.get("prompt"):
            return self.error_reply(400, "prompt is required")
        if self.mai:
            if not fields.get("model"):
                return self.error_reply(400, "model is required")
            unknown = sorted(set(files) - {"model", "prompt", "image"})
            if unknown:
                return self.error_reply(400, f"unrecognized fields: {', '.join(unknown)}")
        edited = edited_png(files.get("image", b""))
        if edited is None:
            return self.error_reply(400, "image is required and must be a PNG, JPEG or WebP")
        self.edit_images.append(files["image"])
        return Reply(
            200,
            {
                "created": int(time.time()),
                "data": [{"b64_json": base64.b64encode(edited).decode()}],
            },
        )

    def handle(self, req: Recorded) -> Reply:
        if req.route == "edit" and req.method == "POST":
            return self.edit(req)
        if req.route != "submit" or req.method != "POST":
            return Reply(404, {"error": {"message": f"no route {req.method} {req.path}"}})
        body = req.json()
        if not isinstance(body, dict) or not body.get("prompt"):
            return self.error_reply(400, "prompt is required")
        if self.outcome == "moderation":
            if self.azure:
                return Reply(
                    400,
                    {
                        "error": {
                            "code": "content_filter",
                            "message": "The response was filtered",
                            "innererror": {
                                "code": "ResponsibleAIPolicyViolation",
                                "content_filter_result": {
                                    "violence": {"filtered": True, "severity": "high"}
                                },
                            },
                        }
                    },
                )
            return Reply(
                400,
                {
                    "error": {
                        "message": "Your request was rejected by the safety system.",
                        "type": "image_generation_user_error",
                        "param": None,
                        "code": "moderation_blocked",
                    }
                },
            )
        if self.outcome == "empty":
            return Reply(200, {"created": int(time.time()), "data": []})
        if "width" in body and "height" in body:
            w, h = int(body["width"]), int(body["height"])
        else:
            size = str(body.get("size") or "1024x1024")
            w, h = (int(x) for x in size.split("x")) if "x" in size else (1024, 1024)
        png = png_bytes(w, h)
        item: dict[str, Any]
        if self.url_mode or body.get("response_format") == "url":
            item = {"url": self.add_file(png, "image/png", ".png")}
        else:
            item = {"b64_json": base64.b64encode(png).decode()}
        if str(body.get("model", "")).startswith("dall-e-3"):
            item["revised_prompt"] = "revised: " + body["prompt"]
        payload: dict[str, Any] = {"created": int(time.time()), "data": [item]}
        if self.usage and str(body.get("model", "gpt-image")).startswith("gpt-image"):
            payload["usage"] = {
                "input_tokens": 50,
                "output_tokens": 4160,
                "total_tokens": 4210,
                "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
            }
            payload["size"] = body.get("size")
        return Reply(200, payload)


class OpenAIVideoFake(ProviderFake):
    """Sora 2: POST /v1/videos → GET /v1/videos/{id} → GET /v1/videos/{id}/content.

    outcome: "ok", "moderation" (create answers 400 moderation_blocked), "failed" (job fails
    with error.code, `fail_code`, default "moderation_blocked"), "error" (job fails with
    internal_error). `azure=True` checks the `api-key` header instead of Bearer.
    """

    name = "openai_video"

    def __init__(self, *, api_key: str | None = "test-key", azure: bool = False) -> None:
        super().__init__(api_key=api_key)
        self.fail_code = "moderation_blocked"
        if azure:
            self.auth_header, self.auth_prefix = "api-key", ""

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(
            status, {"error": {"message": message, "type": "api_error", "code": str(status)}}
        )

    def route_of(self, req: Recorded) -> str:
        if req.method == "POST" and req.path.endswith("/videos"):
            return "submit"
        if req.path.endswith("/content"):
            return "result"
        return "poll"

    def _video(self, job_id: str, job: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": job_id,
            "object": "video",
            "status": job["status"],
            "model": job["model"],
            "progress": 100 if job["status"] == "completed" else 30,
            "seconds": job["seconds"],
            "size": job["size"],
            "created_at": job["created"],
            "error": job.get("error"),
        }

    def handle(self, req: Recorded) -> Reply:
        if req.route == "submit":
            fields = req.form() or (req.json() if req.body.startswith(b"{") else {})
            if not fields.get("prompt"):
                return self.error_reply(400, "prompt is required")
            if self.outcome == "moderation":
                return Reply(
                    400,
                    {
                        "error": {
                            "message": "Your request was blocked by our moderation system.",
                            "type": "invalid_request_error",
                            "code": "moderation_blocked",
                        }
                    },
                )
            job_id, job = self.new_job(
                prefix="video_",
                status="queued",
                model=fields.get("model", "sora-2"),
                seconds=str(fields.get("seconds", "4")),
                size=fields.get("size", "720x1280"),
                created=int(time.time()),
            )
            return Reply(200, self._video(job_id, job))
        parts = req.path.rstrip("/").split("/")
        job_id = parts[-2] if req.route == "result" else parts[-1]
        job = self.jobs.get(job_id)
        if job is None:
            return Reply(404, {"error": {"message": "Video not found", "code": "not_found"}})
        if req.route == "result":
            if job["status"] != "completed":
                return self.error_reply(400, "Video is not ready")
            if self.expired:
                return Reply(self.expired_status, {"error": {"message": "Video content expired"}})
            return Reply(200, mp4_bytes(), {"Content-Type": "video/mp4"})
        if self.tick(job):
            if self.outcome == "failed":
                job["status"] = "failed"
                job["error"] = {"code": self.fail_code, "message": "The video was blocked."}
            elif self.outcome == "error":
                job["status"] = "failed"
                job["error"] = {"code": "internal_error", "message": "Something went wrong."}
            else:
                job["status"] = "completed"
        else:
            job["status"] = "in_progress" if job["polls"] > 1 else "queued"
        return Reply(200, self._video(job_id, job))
