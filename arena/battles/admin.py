"""Admin: operators register providers and contenders; secrets stay in the environment."""

from __future__ import annotations

import os

from django import forms
from django.contrib import admin

from arena.battles.models import Arena, Battle, Contender, Output, Prompt, Provider
from arena.battles.services import provider_config
from generators.base import BadConfiguration, Generator, generator_class


class ProviderForm(forms.ModelForm):
    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url", "api_key_env", "timeout_s", "max_concurrency",
                  "cost_per_output", "options", "enabled"]

    def clean_api_key_env(self) -> str:
        name = self.cleaned_data.get("api_key_env", "").strip()
        if name and not name.replace("_", "").isalnum():
            raise forms.ValidationError(
                "Give the NAME of an environment variable (letters, digits, underscores), "
                "never the key itself."
            )
        if name and name not in os.environ:
            raise forms.ValidationError(
                f"The environment variable {name} is not set on this server: set it for the web "
                "and worker processes first, then save."
            )
        return name

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind:
            cls = _kind_class(str(kind))
            problems = cls.validate_config(data.get("options") or {})
            if getattr(cls, "needs_api_key", False) and not data.get("api_key_env"):
                problems.append(
                    f"{kind} needs an API key: give the name of the environment variable "
                    "that holds it."
                )
            if problems:
                raise forms.ValidationError(problems)
        return data


def _kind_class(kind: str) -> type[Generator]:
    try:
        return generator_class(kind)
    except (BadConfiguration, ImportError) as exc:
        raise forms.ValidationError(f"Provider kind {kind} is not available: {exc}") from exc


class ContenderForm(forms.ModelForm):
    """Checks the provider + contender configuration as a generation would see it."""

    class Meta:
        model = Contender
        fields = ["name", "organization", "provider", "model_id", "parameters", "arenas",
                  "enabled", "sampling_weight", "license", "link"]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        provider = data.get("provider")
        if isinstance(provider, Provider):
            probe = Contender(provider=provider, model_id=str(data.get("model_id") or ""),
                              parameters=data.get("parameters") or {})
            try:
                config = provider_config(probe)
            except BadConfiguration as exc:
                raise forms.ValidationError(exc.message) from exc
            problems = _kind_class(provider.kind).validate_config(config)
            if problems:
                raise forms.ValidationError(problems)
        return data


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "kind", "base_url", "api_key_env", "max_concurrency", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]


@admin.register(Contender)
class ContenderAdmin(admin.ModelAdmin):
    form = ContenderForm
    list_display = ["name", "organization", "provider", "model_id", "enabled",
                    "sampling_weight", "added_at"]
    list_filter = ["enabled", "provider__kind", "arenas"]
    search_fields = ["name", "organization", "model_id"]
    filter_horizontal = ["arenas"]


@admin.register(Arena)
class ArenaAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "modality", "reveal_policy", "is_active"]
    prepopulated_fields = {"slug": ["title"]}


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["text", "source", "modality", "category", "created_at"]
    list_filter = ["source", "modality", "category"]
    search_fields = ["text"]


class OutputInline(admin.TabularInline):
    model = Output
    extra = 0
    can_delete = False
    fields = ["side", "status", "latency_s", "cost", "error_code", "error", "params_used"]
    readonly_fields = fields


@admin.register(Battle)
class BattleAdmin(admin.ModelAdmin):
    list_display = ["id", "arena", "left", "right", "status", "created_at"]
    list_filter = ["status", "arena"]
    readonly_fields = ["id", "arena", "prompt", "left", "right", "voter_id", "seed",
                       "sampling_probability", "created_at", "ready_at", "finished_at"]
    inlines = [OutputInline]
