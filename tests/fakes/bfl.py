"""Fake Black Forest Labs API: POST /v1/{model} → GET polling_url → download result.sample."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.server import ProviderFake, Recorded, Reply, edited_png, png_bytes


class BFLFake(ProviderFake):
    """outcome: "ok", "request_moderated", "content_moderated", "error", "not_found".

    polling_base: another server's URL to put in polling_url (a hostile or regional host);
    sample_url: the URL to hand back as result.sample instead of a file of this fake.
    """

    name = "bfl"
    auth_header = "x-key"
    auth_prefix = ""

    STATUS = {
        "request_moderated": "Request Moderated",
        "content_moderated": "Content Moderated",
        "error": "Error",
        "not_found": "Task not found",
    }

    def __init__(self, *, api_key: str | None = "test-key") -> None:
        super().__init__(api_key=api_key)
        self.polling_base: str | None = None
        self.sample_url: str | None = None
        self.edit_images: list[bytes] = []  # decoded input_image of each edit job

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"detail": message})

    def unauthorized(self) -> Reply:
        return Reply(403, {"detail": "Not authenticated - Invalid Authentication"})

    def route_of(self, req: Recorded) -> str:
        if req.method == "POST" and req.path.startswith("/v1/"):
            return "submit"
        return "poll" if req.path == "/v1/get_result" else "other"

    def handle(self, req: Recorded) -> Reply:
        if req.route == "submit":
            body = req.json()
            if not isinstance(body, dict) or not body.get("prompt"):
                return Reply(
                    422, {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]}
                )
            model = req.path.removeprefix("/v1/")
            if "input_image" in body:  # FLUX Kontext editing: base64 image in the JSON body
                try:
                    source = base64.b64decode(str(body["input_image"]), validate=True)
                except ValueError:
                    source = b""
                edited = edited_png(source)
                if edited is None:
                    return Reply(422, {"detail": "input_image is not a base64 image"})
                self.edit_images.append(source)
                job_id, job = self.new_job(model=model, body=body)
                job["url"] = self.add_file(edited, "image/png", ".png")
                return Reply(
                    200,
                    {
                        "id": job_id,
                        "polling_url": f"{self.polling_base or self.base_url}"
                        f"/v1/get_result?id={job_id}",
                    },
                )
            job_id, _ = self.new_job(model=model, body=body)
            return Reply(
                200,
                {
                    "id": job_id,
                    "polling_url": f"{self.polling_base or self.base_url}"
                    f"/v1/get_result?id={job_id}",
                },
            )
        if req.route == "poll":
            job_id = req.params().get("id", "")
            job = self.jobs.get(job_id)
            if job is None:
                return Reply(404, {"id": job_id, "status": "Task not found"})
            if not self.tick(job):
                return Reply(
                    200,
                    {
                        "id": job_id,
                        "status": "Pending",
                        "result": None,
                        "progress": min(0.9, 0.3 * job["polls"]),
                    },
                )
            if self.outcome in self.STATUS:
                return Reply(
                    200, {"id": job_id, "status": self.STATUS[self.outcome], "result": None}
                )
            body: dict[str, Any] = job["body"]
            if "url" not in job and self.sample_url:
                job["url"] = self.sample_url
            if "url" not in job:
                w, h = int(body.get("width") or 1024), int(body.get("height") or 768)
                # always PNG bytes (real BFL defaults to JPEG; clients must sniff, not assume)
                job["url"] = self.add_file(png_bytes(w, h, (30, 90, 200)), "image/png", ".png")
            return Reply(
                200,
                {
                    "id": job_id,
                    "status": "Ready",
                    "result": {
                        "sample": job["url"],
                        "prompt": body.get("prompt"),
                        "seed": body.get("seed", 42),
                    },
                },
            )
        return Reply(404, {"detail": "Not Found"})
