"""Each kind declares its options (name, type, default, help); the admin refuses the rest."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from generators.base import REGISTRY, generator_class
from generators.options import KIND_OPTIONS, option_specs, options_problems

ROOT = Path(__file__).resolve().parents[2] / "generators"
READ = re.compile(r"""(?:\bopt|options\.get|opts\.get)\(\s*['"]([a-z_0-9]+)['"]""")


def _read_by(cls: type) -> set[str]:
    """Every option key the class and its bases read from their config."""
    keys: set[str] = set()
    for klass in cls.__mro__:
        module = getattr(klass, "__module__", "")
        if not module.startswith("generators."):
            continue
        path = ROOT / (module.split(".", 1)[1].replace(".", "/") + ".py")
        if module.startswith("generators.local_diffusers"):  # a package: every file of it
            source = "\n".join(p.read_text() for p in sorted(path.parent.glob("*.py")))
        else:
            source = path.read_text()
        keys |= set(READ.findall(source))
        for node in ast.walk(ast.parse(source)):  # for name in ("a", "b"): options.get(name)
            if (
                isinstance(node, ast.For)
                and isinstance(node.iter, ast.Tuple)
                and re.search(r"(opt|options\.get)\(name\b", ast.unparse(node))
            ):
                keys |= {e.value for e in node.iter.elts if isinstance(e, ast.Constant)}
    if not cls.__module__.startswith("generators.local_diffusers") and cls.kind != "demo":
        keys |= set(READ.findall((ROOT / "http.py").read_text()))
    return keys


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_option_a_kind_reads_is_declared_with_help(kind: str) -> None:
    declared = {spec.name for spec in option_specs(kind)}
    assert kind in KIND_OPTIONS
    missing = _read_by(generator_class(kind)) - declared
    if kind == "local_diffusers":
        from generators.local_diffusers.options import _FLOAT_OPTIONS, _INT_OPTIONS

        missing |= (set(_INT_OPTIONS) | set(_FLOAT_OPTIONS)) - declared
    assert not missing, f"{kind} reads undeclared options {sorted(missing)}"
    for spec in option_specs(kind):
        assert spec.help and spec.type
        assert spec.accepts(spec.default)
    assert len(declared) == len(option_specs(kind))  # no name declared twice


def test_unknown_keys_are_refused_with_the_known_ones_listed() -> None:
    problems = options_problems("demo", {"stlye": "mosaic"})
    assert problems == ["Unknown option for demo: stlye. Known options: delay_s, style."]
    assert options_problems("demo", {"style": "mosaic", "delay_s": 0.5}) == []
    assert options_problems("demo", {"delay_s": "slow"}) == [
        "Option delay_s must be number, not 'slow'."
    ]
    assert options_problems("generic_http", {"body_template": '{"p": "{prompt}"}'}) == []


@pytest.fixture
def operator(db: None) -> Client:
    User.objects.create_superuser("op", "op@example.com", "pw")
    client = Client()
    client.login(username="op", password="pw")
    return client


PROVIDER = {
    "name": "Renderer two",
    "kind": "demo",
    "base_url": "",
    "api_key_env": "",
    "timeout_s": "60",
    "max_concurrency": "2",
    "cost_per_output": "",
    "enabled": "on",
}


def test_admin_provider_form_shows_each_kinds_options_and_refuses_a_misspelt_key(
    operator: Client,
) -> None:
    from arena.battles.models import Provider

    page = operator.get("/admin/battles/provider/add/").content.decode()
    assert 'data-kind="bfl"' in page and "safety_tolerance" in page
    assert "Renderer: aurora, mosaic, sketch, pixel or noise." in page
    bad = operator.post("/admin/battles/provider/add/", {**PROVIDER, "options": '{"delay": 1}'})
    assert bad.status_code == 200
    assert "Unknown option for demo: delay. Known options: delay_s, style." in bad.content.decode()
    assert not Provider.objects.filter(name="Renderer two").exists()
    good = operator.post("/admin/battles/provider/add/", {**PROVIDER, "options": '{"delay_s": 1}'})
    assert good.status_code == 302
    assert Provider.objects.get(name="Renderer two").options == {"delay_s": 1}


def test_admin_contender_parameters_are_checked_against_the_providers_kind(
    operator: Client, demo_arena: Any
) -> None:
    from arena.battles.models import Contender, Provider

    provider = Provider.objects.get(name="Demo renderer")
    form = {
        "name": "Demo Typo",
        "organization": "",
        "provider": provider.pk,
        "model_id": "demo-x",
        "parameters": '{"styel": "mosaic"}',
        "arenas": [demo_arena.pk],
        "enabled": "on",
        "sampling_weight": "1",
        "license": "",
        "link": "",
    }
    page = operator.post("/admin/battles/contender/add/", form).content.decode()
    assert "Unknown option for demo: styel. Known options: delay_s, style." in page
    assert not Contender.objects.filter(name="Demo Typo").exists()
    edit = operator.get(f"/admin/battles/contender/{Contender.objects.first().pk}/change/")
    assert '<details class="kind-options" data-kind="demo" open>' in edit.content.decode()
