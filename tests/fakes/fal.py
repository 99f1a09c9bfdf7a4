"""Fake fal.ai queue: POST /{model} → status_url (202 pending, 200 done) → response_url."""

from __future__ import annotations

from typing import Any

from tests.fakes.server import ProviderFake, Recorded, Reply, mp4_bytes, png_bytes


class FalFake(ProviderFake):
    """outcome: "ok", "nsfw" (has_nsfw_concepts [true]), "error" (result 422), "video"."""

    name = "fal"
    auth_prefix = "Key "

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"detail": message})

    def unauthorized(self) -> Reply:
        return Reply(401, {"detail": "Unauthorized"})

    def route_of(self, req: Recorded) -> str:
        if req.method == "POST":
            return "submit"
        if req.path.endswith("/status"):
            return "poll"
        return "result" if "/requests/" in req.path else "other"

    def handle(self, req: Recorded) -> Reply:
        if req.route == "submit":
            body = req.json()
            if not isinstance(body, dict) or not body.get("prompt"):
                return Reply(
                    422,
                    {
                        "detail": [
                            {"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}
                        ]
                    },
                )
            app = "/".join(req.path.strip("/").split("/")[:2])
            job_id, _ = self.new_job(body=body, app=app)
            base = f"{self.base_url}/{app}/requests/{job_id}"
            return Reply(
                200,
                {
                    "request_id": job_id,
                    "response_url": base,
                    "status_url": base + "/status",
                    "cancel_url": base + "/cancel",
                    "queue_position": self.pending,
                },
            )
        parts = req.path.strip("/").split("/")
        idx = parts.index("requests") if "requests" in parts else -1
        job = self.jobs.get(parts[idx + 1]) if idx >= 0 and len(parts) > idx + 1 else None
        if job is None:
            return Reply(404, {"detail": "Request not found"})
        if req.route == "poll":
            if not self.tick(job):
                left = self.pending - job["polls"]
                if left > 0:
                    return Reply(202, {"status": "IN_QUEUE", "queue_position": left})
                return Reply(202, {"status": "IN_PROGRESS", "logs": []})
            job["done"] = True
            return Reply(
                200, {"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 1.25}}
            )
        if not job.get("done"):
            return Reply(400, {"detail": "Request is still in progress"})
        if self.outcome == "error":
            return Reply(422, {"detail": [{"msg": "image_size too large", "type": "value_error"}]})
        if self.outcome == "policy":
            return Reply(
                422,
                {
                    "detail": [
                        {"msg": "Content policy violation", "type": "content_policy_violation"}
                    ]
                },
            )
        body: dict[str, Any] = job["body"]
        if self.outcome == "video":
            url = self.add_file(mp4_bytes(), "video/mp4", ".mp4")
            return Reply(200, {"video": {"url": url, "content_type": "video/mp4"}})
        size = body.get("image_size") or {"width": 64, "height": 64}
        if isinstance(size, str):
            size = {"width": 64, "height": 48}
        url = self.add_file(
            png_bytes(int(size["width"]), int(size["height"]), (240, 200, 0)), "image/png", ".png"
        )
        return Reply(
            200,
            {
                "images": [
                    {
                        "url": url,
                        "width": size["width"],
                        "height": size["height"],
                        "content_type": "image/png",
                    }
                ],
                "seed": body.get("seed", 7),
                "prompt": body["prompt"],
                "has_nsfw_concepts": [self.outcome == "nsfw"],
                "timings": {"inference": 1.2},
            },
        )
