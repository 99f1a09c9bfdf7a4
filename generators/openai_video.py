"""OpenAI Sora 2 video API: POST /videos → poll GET /videos/{id} → GET /videos/{id}/content.

Also the Azure v1 surface ({endpoint}/openai/v1/videos) with options.auth = "api-key".
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from generators.base import (
    GenerationRequest,
    GenerationResult,
    GeneratorError,
    ModerationRefused,
    ProviderError,
)
from generators.http import HttpClient, json_body
from generators.openai_images import MODERATION_CODES, openai_error_hook
from generators.remote import RemoteGenerator
from generators.sizing import size_list
from generators.video import check_video, pick_seconds, pick_size

SORA2_SIZES = [(720, 1280), (1280, 720)]
SORA2_PRO_SIZES = [(720, 1280), (1280, 720), (1024, 1792), (1792, 1024)]
SORA2_SECONDS = [4.0, 8.0, 12.0]


class OpenAIVideoGenerator(RemoteGenerator):
    """kind "openai_video": Sora 2 / Sora 2 Pro create → poll → download MP4.

    options: auth ("bearer" default, "api-key" for Azure), sizes (list of "WxH"), json_body
    (send JSON instead of multipart), cost_per_second.
    """

    kind: ClassVar[str] = "openai_video"
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    default_model: ClassVar[str] = "sora-2"
    modalities: ClassVar[tuple[str, ...]] = ("video",)

    def auth_headers(self) -> dict[str, str]:
        if str(self.opt("auth", "bearer")).lower() == "api-key":
            return {"api-key": self.config.api_key}
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        return openai_error_hook(self.kind, response)

    def sizes(self) -> list[tuple[int, int]]:
        configured = size_list(self.opt("sizes"))
        if configured:
            return configured
        return SORA2_PRO_SIZES if "pro" in self.model.lower() else SORA2_SIZES

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
        w, h = pick_size(request, self.sizes(), mapped)
        seconds = int(pick_seconds(request, SORA2_SECONDS, 4.0, mapped))
        fields = {
            "model": self.model,
            "prompt": request.prompt,
            "seconds": str(seconds),
            "size": f"{w}x{h}",
        }
        if request.fps:
            mapped["fps"] = {"requested": request.fps, "used": None}
        mapped["seed"] = {"requested": request.seed, "used": None}
        url = f"{self.base_url}/videos"
        if self.opt("json_body"):
            video = http.post_json(url, fields)
        else:
            files = {k: (None, v) for k, v in fields.items()}
            video = json_body(http.request("POST", url, files=files), self.kind)
        video_id = video.get("id")
        if not video_id:
            raise ProviderError(f"{self.kind}: create returned no id: {str(video)[:300]}")

        def check() -> dict[str, Any] | None:
            state = http.get_json(f"{url}/{video_id}")
            status = state.get("status")
            if status == "completed":
                return state
            if status == "failed":
                raise self.failure(state)
            return None

        done = http.poll(check, what=f"video {video_id}")
        content = http.download(
            f"{url}/{video_id}/content?variant=video",
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
                "model": done.get("model") or self.model,
                "width": w,
                "height": h,
                "duration_s": float(done.get("seconds") or seconds),
                "seed": None,
                "job_id": video_id,
            },
        )

    def failure(self, state: dict[str, Any]) -> GeneratorError:
        err = state.get("error") or {}
        code = str(err.get("code") or "") if isinstance(err, dict) else ""
        message = str(err.get("message") or err) if isinstance(err, dict) else str(err)
        text = f"{self.kind}: video {state.get('id')} failed [{code}]: {message}"
        if code.lower() in MODERATION_CODES or "moderation" in code.lower():
            return ModerationRefused(text)
        return ProviderError(text)
