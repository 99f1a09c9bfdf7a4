"""Operator-configured HTTP image endpoint: a JSON body template and a response path.

Covers self-hosted servers (the OpenAI images format by default) and simple custom APIs
without code: the admin sets the URL, body template, response path and auth header.
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
from generators.http import HttpClient, json_body
from generators.openai_images import openai_error_hook
from generators.remote import RemoteGenerator, decode_b64, dig, image_result
from generators.sizing import (
    aspect_label,
    fit_dims,
    nearest_size,
    note,
    requested_dims,
    requested_label,
    size_list,
    size_str,
)

# The OpenAI images format, so a self-hosted OpenAI-compatible server needs only the URL.
DEFAULT_TEMPLATE: dict[str, Any] = {
    "model": "{model}",
    "prompt": "{prompt}",
    "n": 1,
    "size": "{width}x{height}",
    "response_format": "b64_json",
}
DEFAULT_RESPONSE_PATH = "data.0.b64_json|data.0.url"
PLACEHOLDER = re.compile(
    r"\{(prompt|seed|width|height|model|aspect_ratio|size|quality|image_b64)\}"
)
WHOLE = re.compile(r"^\{(seed|width|height)\}$")


def template_of(value: object) -> Any:
    """The body template as JSON data (it may be stored as a JSON string)."""
    if value is None:
        return DEFAULT_TEMPLATE
    if isinstance(value, str):
        return json.loads(value)
    return value


def fill(template: Any, values: Mapping[str, object]) -> Any:
    """Substitute {placeholders} in string leaves; "{seed}" alone keeps the number's type."""
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if isinstance(template, str):
        whole = WHOLE.match(template)
        if whole:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template)
    return template


class GenericHTTPGenerator(RemoteGenerator):
    """kind "generic_http": POST base_url (+ options.path) with a templated JSON body.

    options: path, method ("POST"), body_template (dict or JSON string; placeholders
    {prompt} {seed} {width} {height} {model} {aspect_ratio} {size} {quality}), response_path
    (dotted, "|" for alternatives; value is base64, a data: URI or a URL), response_type
    ("auto", "b64", "url"), auth_header ("Authorization"), auth_prefix ("Bearer "), headers,
    sizes (list of "WxH" the server accepts), size_multiple, max_side, refusal_path (a truthy
    value there means a moderation refusal), image_field ("image": where an edit's source
    image goes, base64, unless the template places {image_b64} itself).
    """

    kind: ClassVar[str] = "generic_http"
    default_model: ClassVar[str] = "custom"
    needs_api_key: ClassVar[bool] = False
    supports_edit: ClassVar[bool] = True  # the source image base64 in the JSON body

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
        return problems

    def auth_headers(self) -> dict[str, str]:
        headers = {str(k): str(v) for k, v in (self.opt("headers") or {}).items()}
        if self.config.api_key:
            name = str(self.opt("auth_header", "Authorization"))
            headers[name] = f"{self.opt('auth_prefix', 'Bearer ')}{self.config.api_key}"
        return headers

    def error_hook(self, response: requests.Response) -> GeneratorError | None:
        return openai_error_hook(self.kind, response)

    def _generate(self, request: GenerationRequest, http: HttpClient) -> GenerationResult:
        mapped: dict[str, dict[str, object]] = {}
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
        values = {
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
        template = template_of(self.opt("body_template"))
        if request.source_image is not None:
            values["image_b64"] = base64.b64encode(request.source_image).decode("ascii")
        body = fill(template, values)
        used: dict[str, Any] = {"model": self.model}
        if request.source_image is not None:
            used["edit"] = True
            if "{image_b64}" not in json.dumps(template) and isinstance(body, dict):
                body[str(self.opt("image_field", "image"))] = values["image_b64"]
        used["seed"] = (
            request.seed if "{seed}" in json.dumps(template_of(self.opt("body_template"))) else None
        )
        if used["seed"] is None:
            note(mapped, "seed", request.seed, None)
        url = self.base_url + str(self.opt("path", ""))
        response = http.request(str(self.opt("method", "POST")), url, json=body, ok=(200, 201))
        ctype = (response.headers.get("Content-Type") or "").lower()
        if ctype.startswith("image/"):
            return image_result(response.content, self.kind, used=used, mapped=mapped)
        payload = json_body(response, self.kind)
        refusal = self.opt("refusal_path")
        if refusal and dig(payload, str(refusal)):
            raise ModerationRefused(
                f"{self.kind}: refused ({refusal} = {str(dig(payload, str(refusal)))[:200]})"
            )
        value = None
        for path in str(self.opt("response_path", DEFAULT_RESPONSE_PATH)).split("|"):
            value = dig(payload, path.strip())
            if value:
                break
        if not isinstance(value, str) or not value:
            raise ProviderError(
                f"{self.kind}: nothing at response path "
                f"{self.opt('response_path', DEFAULT_RESPONSE_PATH)!r}: "
                f"{str(payload)[:300]}"
            )
        rtype = self.opt("response_type", "auto")
        if rtype == "url" or (rtype == "auto" and value.startswith(("http://", "https://"))):
            data = self.download_image(http, value).data
        else:
            data = decode_b64(value, self.kind)
        return image_result(data, self.kind, used=used, mapped=mapped)
