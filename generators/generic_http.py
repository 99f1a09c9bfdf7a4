"""Operator-configured HTTP endpoint: a JSON body template and a response path.

Covers self-hosted servers (the OpenAI images format by default) and simple custom APIs
without code: the admin sets the URL, body template, response path and auth header. The same
options serve image, image-edit and video requests; a video request also fills {duration_s},
{fps} and {num_frames} and accepts the clip as raw video bytes, base64 or a URL.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import requests

from generators.base import (
    GenerationRequest,
    GenerationResult,
    GeneratorError,
    ModerationRefused,
    ProviderConfig,
    ProviderError,
)
from generators.coerce import as_float
from generators.http import HttpClient, json_body, sniff_content_type
from generators.openai_images import openai_error_hook
from generators.remote import RemoteGenerator, decode_b64, dig, image_result
from generators.sizing import (
    aspect_label,
    fit_dims,
    nearest_size,
    nearest_value,
    note,
    requested_dims,
    requested_label,
    size_list,
    size_str,
)
from generators.video import DEFAULT_VIDEO_DIMS, check_video

# The OpenAI images format, so a self-hosted OpenAI-compatible server needs only the URL.
DEFAULT_TEMPLATE: dict[str, Any] = {
    "model": "{model}",
    "prompt": "{prompt}",
    "n": 1,
    "size": "{width}x{height}",
    "response_format": "b64_json",
}
# Video has no common wire format: every placeholder a video server may want, by name.
DEFAULT_VIDEO_TEMPLATE: dict[str, Any] = {
    "model": "{model}",
    "prompt": "{prompt}",
    "width": "{width}",
    "height": "{height}",
    "aspect_ratio": "{aspect_ratio}",
    "duration_s": "{duration_s}",
    "fps": "{fps}",
    "seed": "{seed}",
}
DEFAULT_RESPONSE_PATH = "data.0.b64_json|data.0.url"
DEFAULT_VIDEO_RESPONSE_PATH = "video.url|video.b64|url|b64|data.0.url|data.0.b64_json"
DEFAULT_VIDEO_SECONDS = 4.0
DEFAULT_VIDEO_FPS = 24
PLACEHOLDER = re.compile(
    r"\{(prompt|seed|width|height|model|aspect_ratio|size|quality|image_b64"
    r"|duration_s|fps|num_frames)\}"
)
WHOLE = re.compile(r"^\{(seed|width|height|duration_s|fps|num_frames)\}$")
# What a request's values are called in `used["sent"]` (the prompt and the image are not
# repeated there).
SENT_NAMES = ("width", "height", "size", "aspect_ratio", "quality", "seed", "model")
SENT_VIDEO_NAMES = ("duration_s", "fps", "num_frames")
OCTET_STREAM = ("application/octet-stream", "binary/octet-stream")


def template_of(value: object, *, video: bool = False) -> Any:
    """The body template as JSON data (it may be stored as a JSON string)."""
    if value is None:
        return DEFAULT_VIDEO_TEMPLATE if video else DEFAULT_TEMPLATE
    if isinstance(value, str):
        return json.loads(value)
    return value


def fill(template: Any, values: Mapping[str, object]) -> Any:
    """Substitute {placeholders} in string leaves; "{seed}" alone keeps the number's type.
    A placeholder the request has no value for (a video's {duration_s} in an image request)
    is empty text, or null where it stands alone."""
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if isinstance(template, str):
        whole = WHOLE.match(template)
        if whole:
            return values.get(whole.group(1))
        return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template)
    return template


def placeholders_in(template: Any) -> set[str]:
    """The placeholder names a template uses (what the server is actually sent)."""
    return set(PLACEHOLDER.findall(json.dumps(template)))


def _number_list(value: object) -> list[float]:
    if not isinstance(value, list):
        return []
    return [as_float(v) for v in value]


class GenericHTTPGenerator(RemoteGenerator):
    """kind "generic_http": POST base_url (+ options.path) with a templated JSON body.

    options: path, method ("POST"), body_template (dict or JSON string; placeholders
    {prompt} {seed} {width} {height} {model} {aspect_ratio} {size} {quality}, and for video
    {duration_s} {fps} {num_frames}), response_path (dotted, "|" for alternatives; value is
    base64, a data: URI or a URL), response_type ("auto", "b64", "url"), auth_header
    ("Authorization"), auth_prefix ("Bearer "), headers, sizes (list of "WxH" the server
    accepts), size_multiple, max_side, refusal_path (a truthy value there means a moderation
    refusal), image_field ("image": where an edit's source image goes, base64, unless the
    template places {image_b64} itself), durations / max_duration_s and frame_rates (what a
    video server accepts; the request maps to the nearest).

    A video request is answered with the clip itself (Content-Type video/*), or JSON with
    base64 or a URL at response_path; a URL is fetched through the guarded client under the
    video size limit, like any provider's result.
    """

    kind: ClassVar[str] = "generic_http"
    default_model: ClassVar[str] = "custom"
    needs_api_key: ClassVar[bool] = False
    supports_edit: ClassVar[bool] = True  # the source image base64 in the JSON body
    modalities: ClassVar[tuple[str, ...]] = ("image", "video")

    @classmethod
    def check_options(cls, config: ProviderConfig, *, partial: bool) -> list[str]:
        problems = []
        try:
            tmpl = template_of(config.options.get("body_template"))
            if not isinstance(tmpl, dict):
                problems.append("options.body_template must be a JSON object")
            elif "{prompt}" not in json.dumps(tmpl):
                problems.append("options.body_template must contain the {prompt} placeholder")
        except ValueError as exc:
            problems.append(f"options.body_template is not valid JSON: {exc}")
        path = config.options.get("response_path")
        if path is not None and (not isinstance(path, str) or not path.strip()):
            problems.append("options.response_path must be a dotted path like data.0.b64_json")
        if config.options.get("response_type") not in (None, "auto", "b64", "url"):
            problems.append("options.response_type must be auto, b64 or url")
        headers = config.options.get("headers")
        if headers is not None and not isinstance(headers, dict):
            problems.append("options.headers must be an object")
        for name in ("durations", "frame_rates"):
            value = config.options.get(name)
            if value is not None and not (
                isinstance(value, list)
                and value
                and all(
                    isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in value
                )
            ):
                problems.append(f"options.{name} must be a non-empty list of positive numbers")
        return problems

    def auth_headers(self) -> dict[str, str]:
        headers = {str(k): str(v) for k, v in (self.opt("headers") or {}).items()}
        if self.config.api_key:
            name = str(self.opt("auth_header", "Authorization"))
            headers[name] = f"{self.opt('auth_prefix', 'Bearer ')}{self.config.api_key}"
        return headers

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        return openai_error_hook(self.kind, response)

    # ------------------------------------------------------------------ the request
    def _size(
        self, request: GenerationRequest, mapped: dict[str, dict[str, object]], *, video: bool
    ) -> tuple[int, int]:
        """The nearest size the server accepts (options.sizes), else the request's fitted."""
        if video:
            dims = requested_dims(request, default_area=1280 * 720) or DEFAULT_VIDEO_DIMS
        else:
            dims = requested_dims(request) or (1024, 1024)
        sizes = size_list(self.opt("sizes"))
        if sizes:
            w, h = nearest_size(*dims, sizes)
        else:
            w, h = fit_dims(
                *dims,
                multiple=int(self.opt("size_multiple", 8)),
                min_side=64,
                max_side=int(self.opt("max_side", 2048)),
            )
        note(mapped, "size", requested_label(request), size_str(w, h))
        return w, h

    def _timing(
        self, request: GenerationRequest, mapped: dict[str, dict[str, object]]
    ) -> tuple[float, int]:
        """Duration and frame rate for a video request, mapped to what the server accepts."""
        seconds = request.duration_s or DEFAULT_VIDEO_SECONDS
        durations = _number_list(self.opt("durations"))
        if durations:
            seconds = nearest_value(seconds, durations)
        elif self.opt("max_duration_s") is not None:
            seconds = min(seconds, as_float(self.opt("max_duration_s")))
        note(mapped, "duration_s", request.duration_s, seconds)
        fps = request.fps or DEFAULT_VIDEO_FPS
        rates = _number_list(self.opt("frame_rates"))
        if rates:
            fps = int(nearest_value(fps, rates))
        note(mapped, "fps", request.fps, fps)
        return seconds, fps

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        video = request.modality == "video"
        mapped: dict[str, dict[str, object]] = {}
        w, h = self._size(request, mapped, video=video)
        values: dict[str, object] = {
            "prompt": request.prompt,
            "seed": request.seed,
            "width": w,
            "height": h,
            "model": self.model,
            "aspect_ratio": aspect_label(w, h),
            "size": size_str(w, h),
            "quality": request.quality or "",
            "image_b64": "",
        }
        if video:
            seconds, fps = self._timing(request, mapped)
            values.update(duration_s=seconds, fps=fps, num_frames=max(1, round(seconds * fps)))
        template = template_of(self.opt("body_template"), video=video)
        names = placeholders_in(template)
        if request.source_image is not None:
            values["image_b64"] = base64.b64encode(request.source_image).decode("ascii")
        body = fill(template, values)
        used: dict[str, Any] = {"model": self.model}
        if request.source_image is not None:
            used["edit"] = True
            if "image_b64" not in names and isinstance(body, dict):
                body[str(self.opt("image_field", "image"))] = values["image_b64"]
        used["seed"] = request.seed if "seed" in names else None
        if used["seed"] is None:
            note(mapped, "seed", request.seed, None)
        sent_names = SENT_NAMES + (SENT_VIDEO_NAMES if video else ())
        used["sent"] = {name: values[name] for name in sent_names if name in names}
        if video:
            self._video_used(request, names, values, mapped, used)
        url = self.base_url + str(self.opt("path", ""))
        response = http.request(str(self.opt("method", "POST")), url, json=body, ok=(200, 201))
        if video:
            return self._video_answer(response, http, used, mapped)
        ctype = (response.headers.get("Content-Type") or "").lower()
        if ctype.startswith("image/"):
            return image_result(response.content, self.kind, used=used, mapped=mapped)
        value = self._answer_value(json_body(response, self.kind), video=False)
        if self._is_url(value):
            data = self.download_image(http, value).data
        else:
            data = decode_b64(value, self.kind)
        return image_result(data, self.kind, used=used, mapped=mapped)

    def _video_used(
        self,
        request: GenerationRequest,
        names: set[str],
        values: Mapping[str, object],
        mapped: dict[str, dict[str, object]],
        used: dict[str, Any],
    ) -> None:
        """What a video server was told: size, duration and fps only where the template
        places them; the rest is recorded as not honoured (used None)."""
        used.update(width=values["width"], height=values["height"])
        if not names & {"width", "height", "size", "aspect_ratio"}:
            note(mapped, "size", requested_label(request), None)
        if names & {"duration_s", "num_frames"}:
            used["duration_s"] = values["duration_s"]
        else:
            used["duration_s"] = None
            note(mapped, "duration_s", request.duration_s, None)
        if "fps" in names:
            used["fps"] = values["fps"]
        else:
            used["fps"] = None
            note(mapped, "fps", request.fps, None)

    # ------------------------------------------------------------------ the answer
    def _is_url(self, value: str) -> bool:
        rtype = self.opt("response_type", "auto")
        return rtype == "url" or (rtype == "auto" and value.startswith(("http://", "https://")))

    def _answer_value(self, payload: Any, *, video: bool) -> str:
        """The string at the first response path that holds one (after the refusal check)."""
        refusal = self.opt("refusal_path")
        if refusal and dig(payload, str(refusal)):
            raise ModerationRefused(
                f"{self.kind}: refused ({refusal} = {str(dig(payload, str(refusal)))[:200]})"
            )
        default = DEFAULT_VIDEO_RESPONSE_PATH if video else DEFAULT_RESPONSE_PATH
        paths = str(self.opt("response_path", default))
        for path in paths.split("|"):
            value = dig(payload, path.strip())
            if isinstance(value, str) and value:
                return value
        raise ProviderError(
            f"{self.kind}: nothing at response path {paths!r}: {str(payload)[:300]}"
        )

    def _video_answer(
        self,
        response: requests.Response,
        http: HttpClient,
        used: dict[str, Any],
        mapped: dict[str, dict[str, object]],
    ) -> GenerationResult:
        """The clip from raw video bytes, or from base64 / a URL in a JSON answer."""
        declared = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        unlabelled = not declared or declared in OCTET_STREAM
        sniffed = sniff_content_type(response.content) if unlabelled else None
        if declared.startswith("video/") or (sniffed or "").startswith("video/"):
            data = response.content
        elif "json" in declared or not declared:
            value = self._answer_value(json_body(response, self.kind), video=True)
            if self._is_url(value):
                data = self.download_video(http, value).data
            else:
                data = decode_b64(value, self.kind)
        else:
            raise ProviderError(
                f"{self.kind}: a video request was answered with Content-Type "
                f"{declared or 'none'!r}; expected the clip (video/*) or JSON with it "
                "at response_path",
                permanent=True,
            )
        limit = self.max_bytes("video")
        if len(data) > limit:
            raise ProviderError(
                f"{self.kind}: video of {len(data)} bytes is over the {limit} byte limit",
                permanent=True,
            )
        return GenerationResult(
            content_type=check_video(data, self.kind), data=data, used=used, mapped=mapped
        )
