"""Admin: operators register providers and contenders; secrets stay in the environment."""

from __future__ import annotations

import base64
import json
import os
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from arena.battles.errors import ArenaError
from arena.battles.generation import contender_test_generate, provider_config
from arena.battles.models import (
    Arena,
    Battle,
    Contender,
    InstantOutput,
    Modality,
    Output,
    OutputResult,
    Prompt,
    Provider,
    ProviderCheck,
    ProviderKind,
)
from arena.battles.selectors import costs_by_day, provider_health
from generators.base import (
    KIND_LABELS,
    REGISTRY,
    BadConfiguration,
    Generator,
    generator_class,
    kind_modalities,
    kind_supports_edit,
)
from generators.options import option_specs, options_problems


def options_help(kind: str | None) -> str:
    """Each kind's options as small tables (name, type, default, help); the chosen kind open."""
    parts = ["Options of the chosen kind (a JSON object); unknown keys are refused."]
    for value, label in ProviderKind.choices:
        specs = option_specs(value)
        rows = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    spec.name,
                    spec.type.replace("|", " or "),
                    "–" if spec.default is None else json.dumps(spec.default),
                    spec.help,
                )
                for spec in specs
            ),
        )
        parts.append(
            format_html(
                '<details class="kind-options" data-kind="{}"{}><summary>{} ({} option{})'
                "</summary><table><tr><th>Name</th><th>Type</th><th>Default</th><th>What it does"
                "</th></tr>{}</table></details>",
                value,
                mark_safe(" open") if value == kind else "",
                label,
                len(specs),  # noqa: S308
                "" if len(specs) == 1 else "s",
                rows,
            )
        )
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - built with format_html


class ProviderForm(forms.ModelForm):
    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "base_url",
            "api_key_env",
            "timeout_s",
            "max_concurrency",
            "cost_per_output",
            "options",
            "enabled",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.data.get("kind") or (self.instance.kind if self.instance.pk else None)
        self.fields["options"].help_text = options_help(kind)

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
            options = data.get("options") or {}
            if not isinstance(options, dict):
                raise forms.ValidationError("Options must be a JSON object.")
            unknown = options_problems(str(kind), options)
            if unknown:
                self.add_error("options", unknown)
                return data
            problems = cls.validate_config(options)
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
        fields = [
            "name",
            "organization",
            "provider",
            "model_id",
            "parameters",
            "arenas",
            "enabled",
            "sampling_weight",
            "license",
            "link",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        provider = self.instance.provider if self.instance.provider_id else None
        self.fields["parameters"].help_text = mark_safe(  # noqa: S308 - format_html inside
            "Override the provider's options for this model (same keys). "
            + options_help(provider.kind if provider else None)
        )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        provider = data.get("provider")
        if isinstance(provider, Provider):
            parameters = data.get("parameters") or {}
            if not isinstance(parameters, dict):
                raise forms.ValidationError("Parameters must be a JSON object.")
            editing = [
                str(a) for a in data.get("arenas") or [] if a.modality == Modality.IMAGE_EDIT
            ]
            if editing and not kind_supports_edit(provider.kind):
                self.add_error(
                    "arenas",
                    f"{', '.join(editing)} edits uploaded images, and the provider kind "
                    f"{provider.get_kind_display()} has no image-edit endpoint. Image-editing "
                    "arenas take: "
                    + ", ".join(KIND_LABELS.get(k, k) for k in REGISTRY if kind_supports_edit(k))
                    + ".",
                )
                return data
            makes = kind_modalities(provider.kind)
            unable = [
                f"{arena} ({arena.modality})"
                for arena in data.get("arenas") or []
                if arena.modality in (Modality.IMAGE, Modality.VIDEO)
                and arena.modality not in makes
            ]
            if unable:
                self.add_error(
                    "arenas",
                    f"The provider kind {provider.get_kind_display()} makes "
                    f"{' and '.join(makes) or 'nothing'} only, so it cannot play in "
                    f"{', '.join(unable)}.",
                )
                return data
            unknown = options_problems(provider.kind, parameters)
            if unknown:
                self.add_error("parameters", unknown)
                return data
            probe = Contender(
                provider=provider,
                model_id=str(data.get("model_id") or ""),
                parameters=data.get("parameters") or {},
            )
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

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        """The configured columns plus two health columns read once for this request (one
        query set for the whole page; the admin instance is shared between requests, so the
        figures live in these closures, never on ``self``)."""
        health = provider_health(hours=1)

        @admin.display(description="Last success")
        def last_success(obj: Provider) -> object:
            return health.get(obj.pk, {}).get("last_success") or "–"

        @admin.display(description="Errors (1 h)")
        def error_rate_last_hour(obj: Provider) -> str:
            entry = health.get(obj.pk, {})
            if not entry.get("total"):
                return "no outputs"
            return f"{entry['error_rate']:.0%} of {entry['total']}"

        return [*self.list_display, last_success, error_rate_last_hour]


class PausedFilter(admin.SimpleListFilter):
    title = "paused after failures"
    parameter_name = "paused"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Paused"), ("no", "Not paused")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() in ("yes", "no"):
            return queryset.filter(paused_at__isnull=self.value() == "no")
        return queryset


@admin.register(Contender)
class ContenderAdmin(admin.ModelAdmin):
    form = ContenderForm
    list_display = [
        "name",
        "organization",
        "provider",
        "model_id",
        "enabled",
        "in_play",
        "sampling_weight",
        "added_at",
        "test_link",
    ]
    list_filter = ["enabled", "provider__kind", "arenas", PausedFilter]
    readonly_fields = ["paused_at", "paused_reason", "failure_streak"]
    search_fields = ["name", "organization", "model_id"]
    filter_horizontal = ["arenas"]
    change_list_template = "admin/battles/contender/change_list.html"

    def get_urls(self) -> list[Any]:
        own = [
            path(
                "<int:pk>/test-generate/",
                self.admin_site.admin_view(self.test_generate_view),
                name="battles_contender_test_generate",
            ),
            path(
                "costs/",
                self.admin_site.admin_view(self.costs_view),
                name="battles_contender_costs",
            ),
        ]
        return own + super().get_urls()

    @admin.display(description="Sampler")
    def in_play(self, obj: Contender) -> str:
        """Why voters do (not) meet it: disabled, or paused after provider failures."""
        if not obj.enabled:
            return "disabled"
        if obj.paused_at:
            return format_html(
                '<span title="{}" style="color:#ba2121">paused: {}</span>',
                obj.paused_reason,
                obj.paused_reason[:90],
            )
        return "in play"

    @admin.display(description="Test")
    def test_link(self, obj: Contender) -> str:
        url = reverse("admin:battles_contender_test_generate", args=[obj.pk])
        return format_html('<a href="{}">test generate</a>', url)

    def test_generate_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Run one generation now and show the image, latency and cost (staff only)."""
        contender = get_object_or_404(Contender.objects.select_related("provider"), pk=pk)
        if not self.has_change_permission(request, contender):
            raise PermissionDenied
        form = TestGenerateForm(request.POST or None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "form": form,
            "contender": contender,
            "opts": self.model._meta,
            "title": f"Test generate: {contender.name}",
        }
        was_paused = contender.paused_at is not None
        if request.method == "POST" and form.is_valid():
            try:
                trial = contender_test_generate(contender=contender, **form.cleaned_data)
            except ArenaError as exc:
                form.add_error("prompt", exc.message)
            else:
                context["check"] = trial.check
                context["resumed"] = was_paused and trial.check.ok
                context["check_rows"] = check_rows(trial.check.params_used or {})
                if trial.data:
                    # a data: URL: the admin page is staff-only and the preview is never
                    # stored or served anywhere else
                    context["preview_type"] = trial.content_type
                    context["preview_data"] = base64.b64encode(trial.data).decode()
                    context["is_video"] = trial.content_type.startswith("video/")
                if trial.poster:
                    context["poster_data"] = base64.b64encode(trial.poster).decode()
        context["recent_checks"] = contender.checks.all()[:10]
        return TemplateResponse(request, "admin/battles/contender/test_generate.html", context)

    def costs_view(self, request: HttpRequest) -> HttpResponse:
        rows = costs_by_day(days=30)
        totals: dict[str, Decimal] = {}
        for row in rows:
            totals[row["contender__name"]] = totals.get(row["contender__name"], Decimal(0)) + (
                row["cost"] or Decimal(0)
            )
        context = {
            **self.admin_site.each_context(request),
            "rows": rows,
            "totals": sorted(totals.items()),
            "opts": self.model._meta,
            "title": "Generation cost per contender and day (last 30 days)",
        }
        return TemplateResponse(request, "admin/battles/contender/costs.html", context)


class TestGenerateForm(forms.Form):
    prompt = forms.CharField(
        initial="a lighthouse on a cliff at sunset, oil painting", max_length=2000
    )
    width = forms.IntegerField(
        required=False,
        min_value=64,
        max_value=4096,
        help_text="Blank: the arena's default form (its first aspect ratio and resolution).",
    )
    height = forms.IntegerField(required=False, min_value=64, max_value=4096)
    seed = forms.IntegerField(initial=0, min_value=0, max_value=2**31 - 1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("width")) != bool(data.get("height")):
            raise forms.ValidationError("Give both width and height, or neither.")
        return data


def _size(entry: dict[str, Any]) -> str:
    if entry.get("width") and entry.get("height"):
        return f"{entry['width']}×{entry['height']}"
    return "–"


def _timing(entry: dict[str, Any]) -> str:
    parts = []
    if entry.get("duration_s") is not None:
        parts.append(f"{float(entry['duration_s']):g} s")
    if entry.get("fps") is not None:
        parts.append(f"{float(entry['fps']):g} fps")
    return ", ".join(parts)


def check_rows(used: dict[str, Any]) -> list[tuple[str, str]]:
    """A test generate's record as (what, value) rows: the form asked for, what the provider
    was sent and mapped, what it returned and what voters would get (so no size change is
    silent)."""
    rows: list[tuple[str, str]] = []
    if used.get("arena"):
        rows.append(("Arena", f"{used['arena']} ({used.get('modality', '')})"))
    requested = used.get("requested") or {}
    if requested:
        text = f"{_size(requested)} ({requested.get('aspect_ratio', '')})"
        timing = _timing(requested)
        rows.append(("Requested", f"{text}, {timing}" if timing else text))
    found = used.get("sent")
    sent: dict[str, Any] = found if isinstance(found, dict) else {}
    if sent:
        rows.append(("Sent", ", ".join(f"{k}={v}" for k, v in sent.items())))
    bookkeeping = {"arena", "modality", "requested", "sent", "mapped", "received", "delivered"}
    provider = {
        k: v for k, v in used.items() if k not in bookkeeping and (k not in sent or sent[k] != v)
    }
    if provider:  # what the provider reports it used, beyond what it was sent
        rows.append(("Provider used", ", ".join(f"{k}={v}" for k, v in provider.items())))
    mapped = used.get("mapped") or {}
    if mapped:
        rows.append(
            (
                "Mapped",
                "; ".join(
                    f"{name}: {entry.get('requested')} → "
                    f"{'not sent' if entry.get('used') is None else entry.get('used')}"
                    for name, entry in mapped.items()
                    if isinstance(entry, dict)
                ),
            )
        )
    elif requested:
        rows.append(("Mapped", "nothing: the provider was sent what was requested"))
    received = used.get("received") or {}
    if received:
        parts = [_size(received)]
        timing = _timing(received)
        if timing:
            parts.append(timing)
        for key in ("codec", "format"):
            if received.get(key):
                parts.append(str(received[key]))
        rows.append(("Received", ", ".join(parts)))
    delivered = used.get("delivered") or {}
    if delivered:
        timing = _timing(delivered)
        rows.append(("Delivered", f"{_size(delivered)}, {timing}" if timing else _size(delivered)))
    return rows


@admin.register(Arena)
class ArenaAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "modality", "reveal_policy", "is_active", "instant"]
    prepopulated_fields = {"slug": ["title"]}

    @admin.display(description="instant battles (pre-drawn: ready / on the way / served)")
    def instant(self, obj: Arena) -> str:
        if not obj.instant_stock:
            return "off"
        from arena.battles.instant import stock_summary

        counts = stock_summary(obj)
        ready, making, served = counts["ready"], counts["making"], counts["served"]
        return f"{obj.instant_stock} battles: {ready} / {making} / {served}"


def result_fields_after(model: type[models.Model], anchor: str) -> list[str]:
    """Every column of `model` for a read-only page, in its declaration order with the
    OutputResult columns (token, file, ... attempts) right after `anchor`: inherited, they
    would otherwise come first, before the model's id and what the output is of."""
    result = [f.name for f in OutputResult._meta.concrete_fields]
    own = [f.name for f in model._meta.concrete_fields if f.name not in result]
    at = own.index(anchor) + 1
    return [*own[:at], *result, *own[at:]]


@admin.register(InstantOutput)
class InstantOutputAdmin(admin.ModelAdmin):
    """Sides of battles drawn and made in advance for instant battles: read only (the stock
    keeps itself)."""

    list_display = [
        "id",
        "arena",
        "draw",
        "side",
        "contender",
        "status",
        "prompt",
        "created_at",
        "consumed_at",
    ]
    list_filter = ["arena", "status", "contender"]
    readonly_fields = result_fields_after(InstantOutput, "params")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["text", "source", "modality", "category", "created_at"]
    list_filter = ["source", "modality", "category"]
    search_fields = ["text"]


_OUTPUT_FIELDS = ("side", "status", "latency_s", "cost", "error_code", "error", "params_used")


class OutputInline(admin.TabularInline):
    model = Output
    extra = 0
    can_delete = False
    fields = _OUTPUT_FIELDS
    readonly_fields = _OUTPUT_FIELDS


@admin.register(Battle)
class BattleAdmin(admin.ModelAdmin):
    list_display = ["id", "arena", "mode", "left", "right", "status", "created_at"]
    list_filter = ["status", "mode", "arena"]
    readonly_fields = [
        "id",
        "arena",
        "prompt",
        "left",
        "right",
        "voter_id",
        "seed",
        "sampling_probability",
        "created_at",
        "ready_at",
        "finished_at",
    ]
    inlines = [OutputInline]


@admin.register(ProviderCheck)
class ProviderCheckAdmin(admin.ModelAdmin):
    list_display = ["contender", "ok", "latency_s", "cost", "error_code", "created_at"]
    list_filter = ["ok", "contender__provider"]
    readonly_fields = [
        "contender",
        "ok",
        "prompt",
        "latency_s",
        "cost",
        "error_code",
        "error",
        "params_used",
        "created_at",
    ]
