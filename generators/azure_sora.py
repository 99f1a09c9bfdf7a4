"""Azure OpenAI Sora 1 jobs API: create job → poll → download generations/{id}/content/video."""

from __future__ import annotations

from typing import Any, ClassVar

from generators.base import (
    GenerationRequest,
    GenerationResult,
    ModerationRefused,
    ProviderError,
)
from generators.http import HttpClient
from generators.remote import RemoteGenerator
from generators.sizing import note, size_list
from generators.video import check_video, pick_size

SORA1_SIZES = [
    (480, 480),
    (854, 480),
    (720, 720),
    (1280, 720),
    (1080, 1080),
    (1920, 1080),
    (480, 854),
    (720, 1280),
    (1080, 1920),
]
FAILED = {"failed", "cancelled"}
MODERATION_REASONS = {"input_moderation", "output_moderation"}


class AzureSoraGenerator(RemoteGenerator):
    """kind "azure_sora": {endpoint}/openai/v1/video/generations/jobs?api-version=preview.

    options: deployment (defaults to model_id, else "sora"), api_version ("preview"),
    auth ("api-key" or "bearer"), cost_per_second.
    """

    kind: ClassVar[str] = "azure_sora"
    default_model: ClassVar[str] = "sora"
    modalities: ClassVar[tuple[str, ...]] = ("video",)

    def auth_headers(self) -> dict[str, str]:
        if str(self.opt("auth", "api-key")).lower() == "bearer":
            return {"Authorization": f"Bearer {self.config.api_key}"}
        return {"api-key": self.config.api_key}

    @property
    def root(self) -> str:
        base = self.base_url
        return base if base.endswith("/openai/v1") else base + "/openai/v1"

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
        params = {"api-version": str(self.opt("api_version", "preview"))}
        w, h = pick_size(request, size_list(self.opt("sizes")) or SORA1_SIZES, mapped)
        max_seconds = 10 if max(w, h) >= 1920 else 20
        wanted = request.duration_s or 5.0
        seconds = int(min(max(1, round(wanted)), max_seconds))
        note(mapped, "duration_s", request.duration_s, float(seconds))
        if request.fps:
            mapped["fps"] = {"requested": request.fps, "used": None}
        mapped["seed"] = {"requested": request.seed, "used": None}
        deployment = str(self.opt("deployment") or self.model)
        body = {
            "model": deployment,
            "prompt": request.prompt,
            "width": w,
            "height": h,
            "n_seconds": seconds,
            "n_variants": 1,
        }
        job = http.post_json(f"{self.root}/video/generations/jobs", body, params=params)
        job_id = job.get("id")
        if not job_id:
            raise ProviderError(f"{self.kind}: create returned no id: {str(job)[:300]}")

        def check() -> dict[str, Any] | None:
            state = http.get_json(f"{self.root}/video/generations/jobs/{job_id}", params=params)
            status = str(state.get("status") or "").lower()
            if status == "succeeded":
                return state
            if status in FAILED:
                reason = state.get("failure_reason") or status
                text = f"{self.kind}: job {job_id} {status}: {reason}"
                if reason in MODERATION_REASONS:
                    raise ModerationRefused(text)
                raise ProviderError(text)
            return None

        done = http.poll(check, what=f"video job {job_id}")
        generations = done.get("generations") or []
        if not generations or not generations[0].get("id"):
            raise ProviderError(f"{self.kind}: job {job_id} succeeded without generations")
        gen_id = generations[0]["id"]
        url = (
            f"{self.root}/video/generations/{gen_id}/content/video"
            f"?api-version={params['api-version']}"
        )
        content = http.download(
            url,
            max_bytes=self.max_bytes("video"),
            allowed_types=("video/", "application/octet-stream"),
            send_auth=True,
        )
        ctype = check_video(content.data, self.kind)
        cost = None
        if self.opt("cost_per_second") is not None:
            cost = float(self.opt("cost_per_second")) * seconds
        return GenerationResult(
            content_type=ctype,
            data=content.data,
            mapped=mapped,
            cost=cost,
            used={
                "model": deployment,
                "width": w,
                "height": h,
                "duration_s": float(seconds),
                "seed": None,
                "job_id": job_id,
                "generation_id": gen_id,
            },
        )
