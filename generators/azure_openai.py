"""Azure OpenAI images: the OpenAI body sent to a deployment URL with api-version and api-key."""

from __future__ import annotations

from typing import ClassVar

from generators.base import ProviderConfig
from generators.openai_images import OpenAIImagesGenerator

DEFAULT_API_VERSION = "2025-04-01-preview"


class AzureOpenAIImagesGenerator(OpenAIImagesGenerator):
    """kind "azure_openai": {resource}.openai.azure.com/openai/deployments/{deployment}/…

    options: deployment (defaults to the contender's model_id), api_version, auth ("api-key"
    or "bearer" for an Entra token in the key slot), model_family (e.g. "dall-e-3" when the
    deployment name does not say which model it serves).
    """

    kind: ClassVar[str] = "azure_openai"
    default_base_url: ClassVar[str] = ""
    default_model: ClassVar[str] = ""

    @classmethod
    def check_options(cls, config: ProviderConfig, *, partial: bool) -> list[str]:
        if not partial and not (config.options.get("deployment") or config.model_id):
            return ["azure_openai needs options.deployment (or the contender's model_id)"]
        return []

    def auth_headers(self) -> dict[str, str]:
        if str(self.opt("auth", "api-key")).lower() == "bearer":
            return {"Authorization": f"Bearer {self.config.api_key}"}
        return {"api-key": self.config.api_key}

    @property
    def deployment(self) -> str:
        return str(self.opt("deployment") or self.config.model_id)

    @property
    def model(self) -> str:
        return str(self.opt("model_family") or self.config.model_id or self.deployment)

    def endpoint(self) -> str:
        base = self.base_url
        if base.endswith("/openai/v1"):  # the newer v1 surface: model goes in the body
            return base + "/images/generations"
        return f"{base}/openai/deployments/{self.deployment}/images/generations"

    def edit_endpoint(self) -> str:
        return self.endpoint().rsplit("/images/generations", 1)[0] + "/images/edits"

    def params(self) -> dict[str, str] | None:
        if self.base_url.endswith("/openai/v1"):
            return {"api-version": str(self.opt("api_version", "preview"))}
        return {"api-version": str(self.opt("api_version", DEFAULT_API_VERSION))}

    def send_model(self) -> bool:
        return self.base_url.endswith("/openai/v1") or bool(self.opt("send_model"))
