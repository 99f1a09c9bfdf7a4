"""Fake Replicate predictions API (models/{o}/{n}/predictions, predictions/{id}, Prefer: wait)."""

from __future__ import annotations

from typing import Any

from tests.fakes.server import ProviderFake, Recorded, Reply, mp4_bytes, png_bytes


class ReplicateFake(ProviderFake):
    """outcome: "ok", "nsfw" (failed, NSFW error), "failed", "canceled"; `video` serves MP4.

    With `Prefer: wait` and pending == 0 the create call answers the finished prediction.
    """

    name = "replicate"

    def __init__(self, *, api_key: str | None = "test-key", video: bool = False) -> None:
        super().__init__(api_key=api_key)
        self.video = video
        self.output_list = True
        self.get_url: str | None = None  # urls.get to hand back instead of this fake's own

    def error_reply(self, status: int, message: str) -> Reply:
        if status == 429:
            message = "Request was throttled. Your rate limit resets in ~30s."
        return Reply(status, {"title": "error", "detail": message, "status": status})

    def unauthorized(self) -> Reply:
        return Reply(
            401,
            {
                "title": "Unauthenticated",
                "detail": "You did not pass a valid authentication token",
                "status": 401,
            },
        )

    def route_of(self, req: Recorded) -> str:
        if req.method == "POST" and req.path.endswith("/predictions"):
            return "submit"
        return "poll" if req.path.startswith("/v1/predictions/") else "other"

    def handle(self, req: Recorded) -> Reply:
        if req.route == "submit":
            body = req.json()
            if not isinstance(body, dict) or not (body.get("input") or {}).get("prompt"):
                return Reply(422, {"detail": "input.prompt is required", "status": 422})
            job_id, job = self.new_job(body=body, status="starting")
            if req.header("prefer") and self.pending == 0:
                self._finish(job_id, job)
            return Reply(201, self._prediction(job_id, job))
        if req.route == "poll":
            job_id = req.path.rsplit("/", 1)[-1]
            job = self.jobs.get(job_id)
            if job is None:
                return Reply(404, {"detail": "Not found.", "status": 404})
            if job["status"] in ("starting", "processing"):
                if self.tick(job):
                    self._finish(job_id, job)
                else:
                    job["status"] = "processing"
            return Reply(200, self._prediction(job_id, job))
        return Reply(404, {"detail": "Not found."})

    def _finish(self, job_id: str, job: dict[str, Any]) -> None:
        if self.outcome == "nsfw":
            job["status"] = "failed"
            job["error"] = "NSFW content detected. Try running it again, or try a different prompt."
        elif self.outcome == "failed":
            job["status"], job["error"] = "failed", "CUDA out of memory"
        elif self.outcome == "canceled":
            job["status"] = "canceled"
        else:
            job["status"] = "succeeded"
            if self.video:
                url = self.add_file(mp4_bytes(), "video/mp4", ".mp4")
            else:
                inp = job["body"]["input"]
                w, h = int(inp.get("width") or 64), int(inp.get("height") or 64)
                url = self.add_file(png_bytes(w, h, (20, 160, 60)), "image/png", ".png")
            job["output"] = [url] if self.output_list else url
            job["metrics"] = {"predict_time": 2.5}

    def _prediction(self, job_id: str, job: dict[str, Any]) -> dict[str, Any]:
        body = job["body"]
        return {
            "id": job_id,
            "model": body.get("version", "owner/model"),
            "version": body.get("version", "hidden"),
            "input": body["input"],
            "logs": "",
            "output": job.get("output"),
            "error": job.get("error"),
            "status": job["status"],
            "created_at": "2025-01-01T00:00:00Z",
            "metrics": job.get("metrics", {}),
            "urls": {
                "get": self.get_url or f"{self.base_url}/v1/predictions/{job_id}",
                "cancel": f"{self.base_url}/v1/predictions/{job_id}/cancel",
            },
        }
