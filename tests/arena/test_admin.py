"""Operators in the admin: provider and contender validation, test generate, health, costs."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from arena.battles import services
from arena.battles.models import Contender, Provider, ProviderCheck
from tests.fakes import OpenAIImagesFake, provider_base_url, start_fake


@pytest.fixture
def staff(db: None) -> Client:
    user = User.objects.create_superuser("ops", "ops@example.org", "pw")
    client = Client()
    client.force_login(user)
    return client


def provider_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "OpenAI",
        "kind": "openai_images",
        "base_url": "https://api.openai.com/v1",
        "api_key_env": "ARENA_TEST_OPENAI_KEY",
        "timeout_s": "60",
        "max_concurrency": "4",
        "cost_per_output": "",
        "options": "{}",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_admin_needs_staff(demo_arena: Any) -> None:
    response = Client().get("/admin/battles/contender/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Client().get("/admin/battles/contender/1/test-generate/").status_code == 302


def test_provider_needs_a_set_environment_variable_not_a_key(
    staff: Client, monkeypatch: Any
) -> None:
    monkeypatch.delenv("ARENA_TEST_OPENAI_KEY", raising=False)
    response = staff.post("/admin/battles/provider/add/", provider_form())
    assert response.status_code == 200
    assert "ARENA_TEST_OPENAI_KEY is not set on this server" in response.content.decode()
    pasted = staff.post(
        "/admin/battles/provider/add/", provider_form(api_key_env="sk-proj-abc123-XYZ")
    )
    assert "never the key itself" in pasted.content.decode()
    missing = staff.post("/admin/battles/provider/add/", provider_form(api_key_env=""))
    assert "needs an API key" in missing.content.decode()
    assert not Provider.objects.exists()
    monkeypatch.setenv("ARENA_TEST_OPENAI_KEY", "sk-test")
    saved = staff.post("/admin/battles/provider/add/", provider_form())
    assert saved.status_code == 302
    provider = Provider.objects.get()
    assert provider.api_key_env == "ARENA_TEST_OPENAI_KEY"
    assert "sk-test" not in str(Provider.objects.values().get())


def test_operator_registers_a_contender_and_the_next_battles_can_draw_it(
    staff: Client, demo_arena: Any, run_on_commit: Any
) -> None:
    provider = Provider.objects.get(kind="demo")
    response = staff.post(
        "/admin/battles/contender/add/",
        {
            "name": "Demo Newcomer",
            "organization": "New Lab",
            "provider": provider.pk,
            "model_id": "demo-new",
            "parameters": '{"style": "mosaic"}',
            "arenas": [demo_arena.pk],
            "enabled": "on",
            "sampling_weight": "1000",
            "license": "",
            "link": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # the adaptive sampler draws a model without votes often (never more than its cap)
    rng = random.Random(5)
    drawn = [
        run_on_commit(
            services.battle_create,
            arena_slug="text-to-image",
            voter_id="v",
            prompt_text=f"a cat {k}",
            rng=rng,
        )
        for k in range(8)
    ]
    assert any("Demo Newcomer" in {b.left.name, b.right.name} for b in drawn)


def test_contender_form_reports_a_bad_configuration(staff: Client, demo_arena: Any) -> None:
    provider = Provider.objects.get(kind="demo")
    response = staff.post(
        "/admin/battles/contender/add/",
        {
            "name": "Broken",
            "organization": "",
            "provider": provider.pk,
            "model_id": "",
            "parameters": '{"style": "cubist"}',
            "arenas": [demo_arena.pk],
            "enabled": "on",
            "sampling_weight": "1",
            "license": "",
            "link": "",
        },
    )
    assert "demo style must be one of" in response.content.decode()
    assert not Contender.objects.filter(name="Broken").exists()


def test_test_generate_shows_image_latency_and_cost(staff: Client, demo_arena: Any) -> None:
    contender = Contender.objects.get(name="Demo Aurora")
    page = staff.get(f"/admin/battles/contender/{contender.pk}/test-generate/")
    assert page.status_code == 200
    response = staff.post(
        f"/admin/battles/contender/{contender.pk}/test-generate/",
        {"prompt": "a red fox", "width": 256, "height": 256, "seed": 3},
    )
    html = response.content.decode()
    assert "Success" in html and "data:image/webp;base64," in html and "Latency" in html
    check = ProviderCheck.objects.get()
    assert check.ok and check.latency_s is not None and check.params_used["width"] == 256


def test_test_generate_against_a_real_protocol_fake(
    staff: Client, demo_arena: Any, monkeypatch: Any
) -> None:
    fake = OpenAIImagesFake()
    server = start_fake(fake)
    try:
        monkeypatch.setenv("ARENA_TEST_OPENAI_KEY", "test-key")
        provider = Provider.objects.create(
            name="Fake OpenAI",
            kind="openai_images",
            base_url=provider_base_url("openai", server.base_url),
            api_key_env="ARENA_TEST_OPENAI_KEY",
            cost_per_output="0.04",
        )
        contender = Contender.objects.create(
            name="gpt-image-1", organization="OpenAI", provider=provider, model_id="gpt-image-1"
        )
        ok = staff.post(
            f"/admin/battles/contender/{contender.pk}/test-generate/",
            {"prompt": "a red fox", "width": 1024, "height": 1024, "seed": 0},
        )
        assert "Success" in ok.content.decode()
        assert float(ProviderCheck.objects.get().cost) == pytest.approx(0.04)
        fake.outcome = "moderation"
        refused = staff.post(
            f"/admin/battles/contender/{contender.pk}/test-generate/",
            {"prompt": "something", "width": 1024, "height": 1024, "seed": 0},
        )
        assert "Failed: moderation" in refused.content.decode()
    finally:
        server.stop()


def test_provider_health_and_costs(staff: Client, demo_arena: Any, run_on_commit: Any) -> None:
    Provider.objects.update(cost_per_output="0.01")
    run_on_commit(
        services.battle_create, arena_slug="text-to-image", voter_id="v", prompt_text="a cat"
    )
    run_on_commit(
        services.battle_create,
        arena_slug="text-to-image",
        voter_id="v",
        prompt_text="forbidden thing",
    )
    page = staff.get("/admin/battles/provider/").content.decode()
    assert "Errors (1 h)" in page and "33% of 3" in page  # the failed battle stops its other side
    costs = staff.get("/admin/battles/contender/costs/").content.decode()
    assert "Demo" in costs and "0.0" in costs


def test_provider_health_columns_keep_no_state_on_the_shared_admin(
    staff: Client, demo_arena: Any
) -> None:
    """Concurrent requests share one ProviderAdmin: each computes its own figures."""
    from django.contrib import admin as django_admin
    from django.test import RequestFactory

    provider_admin = django_admin.site._registry[Provider]
    before = dict(vars(provider_admin))
    first = provider_admin.get_list_display(RequestFactory().get("/admin/battles/provider/"))
    second = provider_admin.get_list_display(RequestFactory().get("/admin/battles/provider/"))
    assert first[-1] is not second[-1]  # per-request closures
    assert dict(vars(provider_admin)) == before  # nothing stored on the instance
    assert staff.get("/admin/battles/provider/").status_code == 200


def test_read_only_output_pages_show_every_column_in_reading_order(
    staff: Client, demo_arena: Any
) -> None:
    """The OutputResult columns are inherited (so Django lists them first): the read-only
    pages still open on the id and what the output is of, the result columns together."""
    from django.contrib import admin as django_admin

    from arena.battles.models import InstantOutput, OutputResult, Prompt
    from arena.playground.models import Generation

    contender = Contender.objects.filter(arenas=demo_arena).first()
    assert contender is not None
    made = [
        InstantOutput.objects.create(
            arena=demo_arena,
            prompt=Prompt.objects.create(text="a lighthouse"),
            contender=contender,
            fingerprint="f",
            seed=1,
        ),
        Generation.objects.create(
            arena=demo_arena, contender=contender, prompt="a lighthouse", voter_id="v", seed=1
        ),
    ]
    result = [f.name for f in OutputResult._meta.concrete_fields]
    for obj in made:
        model = type(obj)
        fields = list(django_admin.site._registry[model].readonly_fields)
        assert sorted(fields) == sorted(f.name for f in model._meta.concrete_fields)
        assert fields[0] == "id"
        start = fields.index("token")
        assert fields[start : start + len(result)] == result
        assert fields.index("contender") < start < fields.index("created_at")
        meta = model._meta
        page = staff.get(f"/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/change/")
        assert page.status_code == 200
        assert "Provider's text, for operators only." in page.content.decode()
