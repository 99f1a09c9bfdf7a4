"""The provider kinds are declared once, in generators/base.py; the admin's choices follow."""

from __future__ import annotations

from arena.battles.models import Provider, ProviderKind
from generators.base import KIND_LABELS, REGISTRY, kind_choices


def test_every_registered_kind_is_a_provider_choice_with_a_label() -> None:
    assert set(KIND_LABELS) == set(REGISTRY)
    assert [value for value, _ in ProviderKind.choices] == [k for k, _ in kind_choices()]
    assert set(ProviderKind.values) == set(REGISTRY)
    assert dict(Provider._meta.get_field("kind").choices) == dict(kind_choices())
    assert ProviderKind.DEMO == "demo" and ProviderKind.DEMO.label == KIND_LABELS["demo"]


def test_a_kind_missing_a_label_is_offered_under_its_own_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(REGISTRY, "new_kind", "generators.demo:DemoGenerator")
    assert kind_choices()[-1] == ("new_kind", "new_kind")
