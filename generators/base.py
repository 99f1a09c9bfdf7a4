"""The one interface every provider kind implements, and the typed errors it may raise."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

Modality = Literal["image", "video", "text"]


@dataclass(frozen=True)
class GenerationRequest:
    """What the arena asks a model for. Providers map unsupported values to the nearest one."""

    prompt: str
    modality: Modality = "image"
    seed: int = 0
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None  # "16:9"; used when width/height are not given
    quality: str | None = None
    duration_s: float | None = None  # video only
    fps: int | None = None  # video only
    deadline_s: float = 120.0  # overall budget for this one output, polling included
    # image editing (modality "image"): the voter's re-encoded PNG upload, to be edited as the
    # prompt instructs; only kinds with `supports_edit` are sent one
    source_image: bytes | None = None


@dataclass(frozen=True)
class GenerationResult:
    """The output bytes (or text) and what was actually used to make them."""

    content_type: str  # "image/png", "video/mp4", "text/plain", ...
    data: bytes = b""
    text: str | None = None
    used: dict[str, object] = field(default_factory=dict)  # width, height, seed, model, ...
    # requested parameter -> {"requested": x, "used": y} where the provider could not honour it
    mapped: dict[str, dict[str, object]] = field(default_factory=dict)
    latency_s: float = 0.0
    cost: float | None = None  # in the provider's billing currency (USD), when known


@dataclass(frozen=True)
class ProviderConfig:
    """A provider + contender resolved for one call. The key comes from the environment."""

    kind: str
    model_id: str = ""
    base_url: str = ""
    api_key: str = ""
    timeout_s: float = 120.0  # read timeout of one HTTP call
    connect_timeout_s: float = 5.0
    max_retries: int = 3
    max_concurrency: int = 4
    cost_per_output: float | None = None
    options: dict[str, object] = field(default_factory=dict)  # provider/contender specific


class GeneratorError(Exception):
    """A generation that did not produce an output.

    `permanent` tells the caller whether retrying the same request can help. The message is for
    operators (admin, logs); voters never see it verbatim since it may name the model.
    """

    code: ClassVar[str] = "provider_error"
    permanent: bool = False

    def __init__(
        self, message: str, *, permanent: bool | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if permanent is not None:
            self.permanent = permanent
        self.retry_after = retry_after


class ModerationRefused(GeneratorError):
    code = "moderation"
    permanent = True


class RateLimited(GeneratorError):
    code = "rate_limited"
    permanent = False


class GenerationTimeout(GeneratorError):
    code = "timeout"
    permanent = False


class BadConfiguration(GeneratorError):
    code = "bad_configuration"
    permanent = True


class ProviderError(GeneratorError):
    code = "provider_error"
    permanent = False


class Generator(ABC):
    """One provider kind. Instances are cheap; heavy state (a loaded pipeline) is cached per
    process by the implementation itself."""

    kind: ClassVar[str]
    # Whether this kind can edit a given image (image_edit arenas offer only those that can).
    supports_edit: ClassVar[bool] = False
    # Celery queue the arena routes this kind's tasks to: "remote" (I/O bound), "gpu", "default".
    queue: ClassVar[str] = "remote"
    # What it can make (an arena of another modality cannot take it).
    modalities: ClassVar[tuple[str, ...]] = ("image",)

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @classmethod
    def validate_config(cls, config: ProviderConfig | Mapping[str, object]) -> list[str]:
        """Problems an operator must fix, in words (empty: usable). Given only an options
        mapping, check what the options alone can tell."""
        return []

    @abstractmethod
    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Produce one output or raise a `GeneratorError` subclass."""


# kind -> "module:Class"; imported lazily so the web process never imports torch.
REGISTRY: dict[str, str] = {
    "demo": "generators.demo:DemoGenerator",
    "openai_images": "generators.openai_images:OpenAIImagesGenerator",
    "bfl": "generators.bfl:BFLGenerator",
    "azure_openai": "generators.azure_openai:AzureOpenAIImagesGenerator",
    "mai_image": "generators.mai_image:MAIImageGenerator",
    "openai_video": "generators.openai_video:OpenAIVideoGenerator",
    "azure_sora": "generators.azure_sora:AzureSoraGenerator",
    "replicate": "generators.replicate:ReplicateGenerator",
    "fal": "generators.fal:FalGenerator",
    "stability": "generators.stability:StabilityGenerator",
    "gemini_image": "generators.gemini_image:GeminiImageGenerator",
    "imagen": "generators.imagen:ImagenGenerator",
    "generic_http": "generators.generic_http:GenericHTTPGenerator",
    "local_diffusers": "generators.local_diffusers:LocalDiffusersGenerator",
}


# kind -> the name operators see (the admin's choices, in this order, come from here).
KIND_LABELS: dict[str, str] = {
    "demo": "Demo (CPU, no key)",
    "openai_images": "OpenAI Images",
    "azure_openai": "Azure OpenAI images",
    "mai_image": "Microsoft Foundry MAI image",
    "openai_video": "OpenAI video (Sora 2)",
    "azure_sora": "Azure video jobs (Sora)",
    "bfl": "Black Forest Labs FLUX",
    "replicate": "Replicate",
    "fal": "fal queue",
    "stability": "Stability stable-image",
    "gemini_image": "Google Gemini image",
    "imagen": "Google Imagen",
    "generic_http": "Generic HTTP (in-house server)",
    "local_diffusers": "Local GPU model (diffusers)",
}


def kind_choices() -> list[tuple[str, str]]:
    """(kind, label) for every registered kind: what the Provider model offers."""
    ordered = [k for k in KIND_LABELS if k in REGISTRY] + [
        k for k in REGISTRY if k not in KIND_LABELS
    ]
    return [(kind, KIND_LABELS.get(kind, kind)) for kind in ordered]


def generator_class(kind: str) -> type[Generator]:
    try:
        target = REGISTRY[kind]
    except KeyError:
        raise BadConfiguration(f"Unknown provider kind {kind!r}") from None
    module_name, _, class_name = target.partition(":")
    cls: type[Generator] = getattr(importlib.import_module(module_name), class_name)
    return cls


def kind_supports_edit(kind: str) -> bool:
    """Whether a provider kind has an image-edit endpoint (imports only that kind's module)."""
    try:
        return generator_class(kind).supports_edit
    except (BadConfiguration, ImportError):
        return False


def kind_modalities(kind: str) -> tuple[str, ...]:
    """What a provider kind can make, "image" and/or "video" (imports only that module)."""
    try:
        return generator_class(kind).modalities
    except (BadConfiguration, ImportError):
        return ()


def get_generator(config: ProviderConfig) -> Generator:
    return generator_class(config.kind)(config)
