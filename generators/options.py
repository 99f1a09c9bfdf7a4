"""Each provider kind's options, declared once: name, type, default and a line of help.

The admin form shows them per kind and refuses a key no kind declares (a misspelt option would
otherwise be ignored in silence). A test reads every generator module and checks that each
option the code reads is declared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class OptionSpec:
    name: str
    type: str  # "string", "integer", "number", "boolean", "object", "list", or "a|b"
    default: object = None  # None: unset (the provider's or the code's own default applies)
    help: str = ""

    def accepts(self, value: object) -> bool:
        return value is None or any(_is(kind, value) for kind in self.type.split("|"))


def _is(kind: str, value: object) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    return True


def _o(name: str, type_: str, default: object, help_: str) -> OptionSpec:
    return OptionSpec(name=name, type=type_, default=default, help=help_)


# Every remote kind (generators/remote.py and the HTTP choke point generators/http.py).
REMOTE = (
    _o("no_auth", "boolean", False, "Send no key at all (an in-house server on a private net)."),
    _o(
        "private_origins",
        "list",
        None,
        "http(s) origins on private addresses this provider "
        "may reach (in-house servers); everything else private is refused.",
    ),
    _o(
        "concurrency_key",
        "string",
        None,
        "Share the concurrency cap with other providers "
        "that use the same key (one account behind several rows).",
    ),
    _o(
        "slot_wait_s",
        "number",
        None,
        "Seconds to wait for a free concurrency slot (default: half the output's deadline).",
    ),
    _o("max_bytes", "number", None, "Largest output file accepted, in bytes."),
    _o("max_response_bytes", "number", None, "Largest HTTP response body read, in bytes."),
    _o("retry_backoff_s", "number", 0.5, "First wait before retrying a 5xx or 429."),
    _o("retry_backoff_max_s", "number", 20.0, "Longest wait between retries."),
    _o("poll_interval_s", "number", 1.0, "First wait between polls of an asynchronous job."),
    _o("poll_max_interval_s", "number", 5.0, "Longest wait between polls."),
    _o(
        "cost_per_million_input_tokens",
        "number",
        None,
        "Price per million input tokens, for the cost report (text models).",
    ),
    _o("cost_per_million_output_tokens", "number", None, "Price per million output tokens."),
)
_AUTH = _o(
    "auth", "string", "api-key", '"api-key", or "bearer" for an Entra/OAuth token in the key slot.'
)
_SIZES = _o(
    "sizes",
    "list|string",
    None,
    'Sizes the model accepts, as "WxH" strings; the request maps to the nearest.',
)
_PATH = _o("path", "string", None, "Request path after the base URL (default: the kind's).")
_OUTPUT_FORMAT = _o(
    "output_format",
    "string",
    "png",
    "File format asked for (png, jpeg, webp); the arena re-encodes it anyway.",
)
_COST_PER_SECOND = _o(
    "cost_per_second",
    "number",
    None,
    "Price per second of output (or of compute), for the cost report.",
)
_INPUT_DEFAULTS = _o(
    "input_defaults",
    "object",
    None,
    "Fields merged into every request's input (e.g. a scheduler or a negative prompt).",
)
_DURATION_PARAM = _o(
    "duration_param",
    "string",
    None,
    'Input field that takes the video duration (e.g. "duration"), for video models.',
)
_EXTRA_BODY = _o("extra_body", "object", None, "Fields merged into the request body.")
_DEPLOYMENT = _o(
    "deployment", "string", None, "Azure deployment name (default: the contender's model id)."
)
_API_VERSION = _o("api_version", "string", None, "Azure api-version query parameter.")

KIND_OPTIONS: dict[str, tuple[OptionSpec, ...]] = {
    "demo": (
        _o("style", "string", "aurora", "Renderer: aurora, mosaic, sketch, pixel or noise."),
        _o("delay_s", "number", 0.0, "Seconds to sleep per output (to mimic a slow model)."),
    ),
    "openai_images": REMOTE
    + (
        _PATH,
        _SIZES,
        _OUTPUT_FORMAT,
        _o(
            "quality",
            "string",
            None,
            "Quality asked for when the arena asks none (low, medium, high, hd...).",
        ),
        _o("moderation", "string", None, 'gpt-image moderation level ("auto" or "low").'),
        _o("response_format", "string", "b64_json", "DALL·E models: b64_json or url."),
        _o(
            "edit_path",
            "string",
            "/images/edits",
            "Path of the edit endpoint (image-editing arenas): multipart with the source image.",
        ),
        _EXTRA_BODY,
    ),
    "azure_openai": (),  # filled below: openai_images plus the Azure ones
    "mai_image": REMOTE
    + (
        _DEPLOYMENT,
        _AUTH,
        _PATH,
        _o(
            "edit_path",
            "string",
            "/mai/v1/images/edits",
            "Path of the edit endpoint (image-editing arenas): multipart with the source image.",
        ),
    ),
    "openai_video": REMOTE
    + (
        _o("auth", "string", "bearer", '"bearer", or "api-key" for Azure.'),
        _SIZES,
        _o("json_body", "boolean", False, "Send JSON instead of multipart form data."),
        _COST_PER_SECOND,
    ),
    "azure_sora": REMOTE
    + (
        _o("deployment", "string", None, 'Deployment name (default: the model id, else "sora").'),
        _o("api_version", "string", "preview", "api-version query parameter."),
        _AUTH,
        _SIZES,
        _COST_PER_SECOND,
    ),
    "bfl": REMOTE
    + (
        _OUTPUT_FORMAT,
        _o(
            "size_mode",
            "string",
            None,
            '"aspect_ratio" to send an aspect ratio instead of '
            "width and height (Kontext models do by default).",
        ),
        _o("aspect_ratios", "list", None, 'Aspect ratios the model accepts ("16:9"...).'),
        _o("safety_tolerance", "integer", None, "BFL safety tolerance (0 strictest to 6)."),
        _o("prompt_upsampling", "boolean", None, "Let BFL rewrite the prompt."),
        _EXTRA_BODY,
    ),
    "replicate": REMOTE
    + (
        _o(
            "size_param",
            "string",
            "aspect_ratio",
            '"aspect_ratio", "width_height" or "none": how the size is sent.',
        ),
        _o("aspect_ratios", "list", None, "Aspect ratios the model accepts."),
        _o("max_side", "integer", None, "Largest side sent with width_height."),
        _o("size_multiple", "integer", None, "Sides rounded to a multiple of this."),
        _INPUT_DEFAULTS,
        _OUTPUT_FORMAT,
        _o(
            "prefer_wait",
            "number",
            None,
            "Seconds to hold the request open (Prefer: wait, at most 60; 0 = off).",
        ),
        _DURATION_PARAM,
        _COST_PER_SECOND,
    ),
    "fal": REMOTE
    + (
        _o(
            "size_param",
            "string",
            "image_size",
            '"image_size" ({width, height}), "image_size_enum" or "none".',
        ),
        _o("max_pixels", "integer", 2048 * 2048, "Largest width × height sent."),
        _OUTPUT_FORMAT,
        _o("enable_safety_checker", "boolean", True, "fal's own safety checker."),
        _DURATION_PARAM,
        _INPUT_DEFAULTS,
    ),
    "stability": REMOTE
    + (
        _o("endpoint", "string", None, "Endpoint path (default: derived from the model id)."),
        _o("accept", "string", "json", '"json", or "image" for raw bytes.'),
        _OUTPUT_FORMAT,
        _o("negative_prompt", "string", None, "What the image should not show."),
        _o("style_preset", "string", None, "A Stability style preset (photographic...)."),
    ),
    "gemini_image": REMOTE
    + (
        _o("image_size", "string", None, '"1K", "2K" or "4K" on newer models.'),
        _o("aspect_ratios", "list", None, "Aspect ratios the model accepts."),
        _o("send_seed", "boolean", True, "Send the battle's seed."),
        _AUTH,
        _PATH,
    ),
    "imagen": REMOTE
    + (
        _o("image_size", "string", None, '"1K" or "2K".'),
        _o("person_generation", "string", None, "Imagen personGeneration policy."),
        _o("send_seed", "boolean", False, "Send the seed (Vertex only)."),
        _o("aspect_ratios", "list", None, "Aspect ratios the model accepts."),
        _AUTH,
        _PATH,
    ),
    "generic_http": REMOTE
    + (
        _PATH,
        _o("method", "string", "POST", "HTTP method."),
        _o(
            "image_field",
            "string",
            "image",
            "Body field that carries an edit's source image as base64 (or use {image_b64}).",
        ),
        _o(
            "body_template",
            "object|string",
            None,
            "JSON body with placeholders {prompt} "
            "{seed} {width} {height} {model} {aspect_ratio} {size} {quality} {image_b64}, and "
            "for video {duration_s} {fps} {num_frames} (default for video: model, prompt, width, "
            "height, aspect_ratio, duration_s, fps and seed under those names).",
        ),
        _o(
            "response_path",
            "string",
            None,
            "Dotted path to the output in the answer "
            '("|" between alternatives), e.g. data.0.b64_json; a video request may also be '
            "answered with the clip itself (Content-Type video/*).",
        ),
        _o("response_type", "string", "auto", '"auto", "b64" or "url".'),
        _o("auth_header", "string", "Authorization", "Header that carries the key."),
        _o("auth_prefix", "string", "Bearer ", "Text before the key in that header."),
        _o("headers", "object", None, "Extra request headers."),
        _SIZES,
        _o("size_multiple", "integer", 8, "Sides rounded to a multiple of this."),
        _o("max_side", "integer", 2048, "Largest side sent."),
        _o(
            "refusal_path",
            "string",
            None,
            "Dotted path whose truthy value means the server refused the prompt (moderation).",
        ),
        _o(
            "durations",
            "list",
            None,
            "Video durations in seconds the server accepts; the request maps to the nearest.",
        ),
        _o(
            "max_duration_s",
            "number",
            None,
            "Longest video the server makes (without durations); longer requests are capped.",
        ),
        _o(
            "frame_rates",
            "list",
            None,
            "Video frame rates the server accepts; the request maps to the nearest.",
        ),
    ),
    "local_diffusers": (
        _o(
            "path",
            "string",
            None,
            "Local directory holding a diffusers pipeline (model_index.json). Required.",
        ),
        _o("dtype", "string", None, "float16, bfloat16 or float32 (default float16 on CUDA)."),
        _o("device", "string", None, "cuda, cuda:N or cpu (default cuda when available)."),
        _o("num_inference_steps", "integer", None, "Denoising steps (else the pipeline's)."),
        _o("guidance_scale", "number", None, "Classifier-free guidance scale."),
        _o("max_batch", "integer", 4, "Requests batched into one pipeline call."),
        _o("batch_window_ms", "number", 50, "How long a batch waits for company."),
        _o("default_size", "integer", None, "Side used when the request gives no size."),
        _o("max_side", "integer", 2048, "Largest side generated."),
        _o("size_multiple", "integer", 8, "Sides rounded to a multiple of this."),
        _o("fps", "integer", None, "Video frames per second (default: the request's, else 8)."),
        _o("num_frames", "integer", None, "Frames when the request gives no duration."),
        _o("max_frames", "integer", 256, "Most frames per video."),
        _o("frame_multiple", "integer", 1, "Frame counts of the form k·multiple + offset."),
        _o("frame_offset", "integer", 0, "See frame_multiple (4 and 1 for Wan)."),
        _o(
            "call_kwargs",
            "object",
            None,
            "Extra keyword arguments for every pipeline call (e.g. negative_prompt).",
        ),
    ),
}
KIND_OPTIONS["azure_openai"] = KIND_OPTIONS["openai_images"] + (
    _DEPLOYMENT,
    _API_VERSION,
    _AUTH,
    _o(
        "model_family",
        "string",
        None,
        'Which model the deployment serves (e.g. "dall-e-3") when its name does not say.',
    ),
    _o("send_model", "boolean", False, "Send the model name in the body (v1 endpoints do)."),
)


def option_specs(kind: str) -> tuple[OptionSpec, ...]:
    return KIND_OPTIONS.get(kind) or ()


def options_problems(kind: str, options: Mapping[str, object]) -> list[str]:
    """Unknown keys (with the known ones listed) and values of the wrong type, in words."""
    specs = {spec.name: spec for spec in option_specs(kind)}
    problems = []
    unknown = sorted(set(options) - set(specs))
    if unknown:
        problems.append(
            f"Unknown option{'s' if len(unknown) > 1 else ''} for {kind}: "
            f"{', '.join(unknown)}. Known options: {', '.join(sorted(specs)) or 'none'}."
        )
    for name, value in options.items():
        spec = specs.get(name)
        if spec and not spec.accepts(value):
            problems.append(
                f"Option {name} must be {spec.type.replace('|', ' or ')}, not {value!r}."
            )
    return problems
