"""Replicate predictions: create with `Prefer: wait`, then poll urls.get until done."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from generators.base import (
    GenerationRequest,
    GenerationResult,
    ModerationRefused,
    ProviderConfig,
    ProviderError,
)
from generators.http import HttpClient, json_body
from generators.remote import RemoteGenerator, decode_b64, image_result
from generators.sizing import (
    aspect_label,
    fit_dims,
    nearest_aspect,
    note,
    requested_dims,
    requested_label,
    size_str,
    target_ratio,
)
from generators.video import check_video

FLUX_ASPECTS = ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"]
DONE = {"succeeded"}
FAILED = {"failed", "canceled", "aborted"}
VERSION_ID = re.compile(r"^[0-9a-f]{64}$")
# Replicate has no moderation status: refusals are failures whose error says so.
MODERATION_HINTS = ("nsfw", "sensitive", "safety", "flagged", "moderat", "content policy", "e005")


class ReplicateGenerator(RemoteGenerator):
    """kind "replicate": model_id "owner/name", "owner/name:version" or a version id.

    options: size_param ("aspect_ratio" default, "width_height", "none"), aspect_ratios,
    input_defaults (dict merged into `input`), output_format, prefer_wait (s, ≤ 60, 0 = off),
    duration_param (video models, e.g. "duration"), cost_per_second (× metrics.predict_time).
    """

    kind: ClassVar[str] = "replicate"
    default_base_url: ClassVar[str] = "https://api.replicate.com/v1"
    modalities: ClassVar[tuple[str, ...]] = ("image", "video")

    @classmethod
    def check_options(cls, config: ProviderConfig, *, partial: bool) -> list[str]:
        problems = []
        if not partial and not config.model_id:
            problems.append("replicate needs the contender's model_id as owner/name[:version]")
        if config.options.get("size_param") not in (None, "aspect_ratio", "width_height", "none"):
            problems.append("options.size_param must be aspect_ratio, width_height or none")
        return problems

    def build_input(
        self, request: GenerationRequest, mapped: dict[str, dict[str, object]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        inp: dict[str, Any] = {"prompt": request.prompt, "seed": request.seed}
        used: dict[str, Any] = {"model": self.model, "seed": request.seed}
        mode = self.opt("size_param", "aspect_ratio")
        if mode == "aspect_ratio":
            ratio = target_ratio(request)
            if ratio is not None:
                aspect = nearest_aspect(ratio, self.opt("aspect_ratios") or FLUX_ASPECTS)
                inp["aspect_ratio"] = aspect
                used["aspect_ratio"] = aspect
                requested = request.aspect_ratio or aspect_label(
                    request.width or 1, request.height or 1
                )
                note(mapped, "aspect_ratio", requested, aspect)
        elif mode == "width_height":
            dims = requested_dims(request) or (1024, 1024)
            w, h = fit_dims(
                *dims,
                multiple=int(self.opt("size_multiple", 16)),
                min_side=256,
                max_side=int(self.opt("max_side", 1440)),
            )
            inp["width"], inp["height"] = w, h
            note(mapped, "size", requested_label(request), size_str(w, h))
        if request.modality == "image":
            inp["output_format"] = self.opt("output_format", "png")
        elif request.duration_s and self.opt("duration_param"):
            inp[str(self.opt("duration_param"))] = request.duration_s
            used["duration_s"] = request.duration_s
        defaults = self.opt("input_defaults")
        if isinstance(defaults, dict):
            inp = {**defaults, **inp}
        return inp, used

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
        inp, used = self.build_input(request, mapped)
        model = self.model
        if ":" in model or VERSION_ID.match(model):
            url, body = f"{self.base_url}/predictions", {"version": model, "input": inp}
        else:
            url, body = f"{self.base_url}/models/{model}/predictions", {"input": inp}
        headers = {}
        budget = min(self.config.timeout_s, http.deadline.remaining()) - 2
        wait = min(int(self.opt("prefer_wait", 60)), int(budget))
        if wait >= 1:
            headers["Prefer"] = f"wait={wait}"
        pred = json_body(http.request("POST", url, json=body, headers=headers), self.kind)
        pred_id = pred.get("id")
        used["prediction_id"] = pred_id
        if pred.get("status") not in DONE:
            self.raise_if_failed(pred)
            get_url = (pred.get("urls") or {}).get(
                "get"
            ) or f"{self.base_url}/predictions/{pred_id}"

            def check() -> dict[str, Any] | None:
                state = http.get_json(get_url)
                if state.get("status") in DONE:
                    return state
                self.raise_if_failed(state)
                return None

            pred = http.poll(check, what=f"prediction {pred_id}")
        output = pred.get("output")
        if isinstance(output, list):
            output = output[0] if output else None
        if isinstance(output, dict):
            output = output.get("url") or output.get("image") or output.get("video")
        if not isinstance(output, str) or not output:
            raise ProviderError(f"{self.kind}: prediction {pred_id} has no output URL")
        cost = None
        predict_time = (pred.get("metrics") or {}).get("predict_time")
        if predict_time is not None:
            used["predict_time_s"] = predict_time
            if self.opt("cost_per_second") is not None:
                cost = float(self.opt("cost_per_second")) * float(predict_time)
        if request.modality == "video":
            data = (
                decode_b64(output, self.kind)
                if output.startswith("data:")
                else self.download_video(http, output).data
            )
            return GenerationResult(
                content_type=check_video(data, self.kind),
                data=data,
                used=used,
                mapped=mapped,
                cost=cost,
            )
        data = (
            decode_b64(output, self.kind)
            if output.startswith("data:")
            else self.download_image(http, output).data
        )
        return image_result(data, self.kind, used=used, mapped=mapped, cost=cost)

    def raise_if_failed(self, pred: dict[str, Any]) -> None:
        status = pred.get("status")
        if status not in FAILED:
            return
        error = str(pred.get("error") or status)
        text = f"{self.kind}: prediction {pred.get('id')} {status}: {error}"
        if status == "failed" and any(h in error.lower() for h in MODERATION_HINTS):
            raise ModerationRefused(text)
        raise ProviderError(text, permanent=status == "failed")
