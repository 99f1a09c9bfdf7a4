"""How to point each remote provider kind at its fake (shared by generator and site tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import (
    AzureSoraFake,
    BFLFake,
    FalFake,
    GenericFake,
    GoogleFake,
    OpenAIImagesFake,
    OpenAIVideoFake,
    ProviderFake,
    ReplicateFake,
    StabilityFake,
)


@dataclass
class Case:
    """How to point one kind at its fake."""

    fake: Callable[[], ProviderFake]
    suffix: str = ""
    model_id: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    auth: tuple[str, str] = ("Authorization", "Bearer test-key")
    is_async: bool = False


CASES: dict[str, Case] = {
    "openai_images": Case(OpenAIImagesFake, "/v1"),
    "azure_openai": Case(
        lambda: OpenAIImagesFake(azure=True),
        options={"deployment": "img1"},
        model_id="gpt-image-1",
        auth=("api-key", "test-key"),
    ),
    "mai_image": Case(
        lambda: OpenAIImagesFake(mai=True), model_id="MAI-Image-1", auth=("api-key", "test-key")
    ),
    "openai_video": Case(OpenAIVideoFake, "/v1", request={"modality": "video"}, is_async=True),
    "azure_sora": Case(
        AzureSoraFake, request={"modality": "video"}, auth=("api-key", "test-key"), is_async=True
    ),
    "bfl": Case(BFLFake, auth=("x-key", "test-key"), is_async=True),
    "replicate": Case(
        ReplicateFake, "/v1", model_id="black-forest-labs/flux-schnell", is_async=True
    ),
    "fal": Case(
        FalFake, model_id="fal-ai/flux/dev", auth=("Authorization", "Key test-key"), is_async=True
    ),
    "stability": Case(StabilityFake, model_id="core"),
    "gemini_image": Case(GoogleFake, "/v1beta", auth=("x-goog-api-key", "test-key")),
    "imagen": Case(GoogleFake, "/v1beta", auth=("x-goog-api-key", "test-key")),
    "generic_http": Case(
        GenericFake,
        options={
            "path": "/generate",
            "auth_header": "X-Api-Key",
            "auth_prefix": "",
            "body_template": {"prompt": "{prompt}", "w": "{width}", "h": "{height}", "s": "{seed}"},
            "response_path": "output.b64",
        },
        auth=("X-Api-Key", "test-key"),
    ),
}
