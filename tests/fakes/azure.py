"""Fake Azure OpenAI Sora 1 jobs API (images on Azure use OpenAIImagesFake(azure=True))."""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.server import ProviderFake, Recorded, Reply, mp4_bytes

JOBS = "/openai/v1/video/generations/jobs"
GENERATIONS = "/openai/v1/video/generations/"


class AzureSoraFake(ProviderFake):
    """outcome: "ok", "input_moderation", "output_moderation", "internal_error", "cancelled"."""

    name = "azure_sora"
    auth_header = "api-key"
    auth_prefix = ""

    def error_reply(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": {"code": str(status), "message": message}})

    def route_of(self, req: Recorded) -> str:
        if req.method == "POST" and req.path == JOBS:
            return "submit"
        if req.path.startswith(JOBS + "/"):
            return "poll"
        if req.path.startswith(GENERATIONS) and req.path.endswith("/content/video"):
            return "result"
        return "other"

    def handle(self, req: Recorded) -> Reply:
        if req.params().get("api-version") != "preview":
            return Reply(404, {"error": {"code": "404", "message": "Resource not found"}})
        if req.route == "submit":
            body = req.json()
            if not isinstance(body, dict) or not body.get("prompt"):
                return self.error_reply(400, "prompt is required")
            job_id, job = self.new_job(prefix="task_", body=body, status="queued")
            return Reply(201, self._job(job_id, job))
        if req.route == "poll":
            job_id = req.path.rsplit("/", 1)[-1]
            job = self.jobs.get(job_id)
            if job is None:
                return self.error_reply(404, "job not found")
            if self.tick(job):
                if self.outcome in ("input_moderation", "output_moderation", "internal_error"):
                    job["status"], job["failure_reason"] = "failed", self.outcome
                elif self.outcome == "cancelled":
                    job["status"] = "cancelled"
                else:
                    job["status"] = "succeeded"
                    job["generations"] = [{"id": "gen_" + job_id, "job_id": job_id}]
            else:
                job["status"] = ("preprocessing", "running", "processing")[job["polls"] % 3]
            return Reply(200, self._job(job_id, job))
        if req.route == "result":
            if self.expired:
                return self.error_reply(self.expired_status, "generation content expired")
            return Reply(200, mp4_bytes(), {"Content-Type": "video/mp4"})
        return self.error_reply(404, "Resource not found")

    def _job(self, job_id: str, job: dict[str, Any]) -> dict[str, Any]:
        body = job["body"]
        out: dict[str, Any] = {
            "object": "video.generation.job",
            "id": job_id,
            "status": job["status"],
            "created_at": int(time.time()),
            "prompt": body["prompt"],
            "model": body.get("model"),
            "width": body.get("width"),
            "height": body.get("height"),
            "n_seconds": body.get("n_seconds"),
            "n_variants": body.get("n_variants"),
            "failure_reason": job.get("failure_reason"),
            "generations": job.get("generations", []),
        }
        return out
