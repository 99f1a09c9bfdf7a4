"""A battle between a fake-OpenAI contender and a fake-BFL contender through real Celery
workers on Redis and PostgreSQL; the fakes run as their own processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import spawn_fake
from tests.fakes.testing import FAST_OPTIONS
from tests.live import LiveArena, Voter

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, str]]:
    openai, openai_base = spawn_fake("openai")
    bfl, bfl_base = spawn_fake("bfl", pending=3, delay_s=0.5)  # slower: it polls
    try:
        yield {"openai": openai_base, "bfl": bfl_base}
    finally:
        for proc in (openai, bfl):
            proc.terminate()
            proc.wait(timeout=10)


def test_openai_and_bfl_contenders_battle_through_celery_on_redis(
    tmp_path: Path, postgres_database: str, redis_url: str, fakes: dict[str, str]
) -> None:
    arena = LiveArena(
        tmp_path,
        database_url=postgres_database,
        redis_url=redis_url,
        extra_env={"FAKE_OPENAI_KEY": "test-key", "FAKE_BFL_KEY": "test-key"},
    )
    arena.start()
    try:
        arena.manage(
            "shell",
            "-c",
            "\n".join(
                [
                    "from arena.battles.models import Arena, Provider, Contender",
                    "a = Arena.objects.create(slug='remote-e2e', title='Remote', reveal_policy="
                    "'as_ready', width=1024, height=1024)",
                    "o = Provider.objects.create(name='OpenAI (fake)', kind='openai_images',"
                    f" base_url={fakes['openai']!r}, api_key_env='FAKE_OPENAI_KEY',"
                    " cost_per_output='0.04',"
                    f" options={FAST_OPTIONS!r})",
                    f"b = Provider.objects.create(name='BFL (fake)', kind='bfl', base_url="
                    f"{fakes['bfl']!r}, api_key_env='FAKE_BFL_KEY', cost_per_output='0.03',"
                    f" options={FAST_OPTIONS!r})",
                    "Contender.objects.create(name='gpt-image-1', organization='OpenAI',"
                    " provider=o, model_id='gpt-image-1').arenas.add(a)",
                    "Contender.objects.create(name='FLUX 1.1 pro',"
                    " organization='Black Forest Labs', provider=b,"
                    " model_id='flux-pro-1.1').arenas.add(a)",
                ]
            ),
        )
        voter = Voter(arena)
        battle = voter.post(
            "/api/arenas/remote-e2e/battles", {"prompt": "a lighthouse at dusk"}
        ).json()
        ws = voter.socket(f"/ws/battles/{battle['id']}/")
        try:
            states = voter.follow_until(ws, {"ready", "failed"}, timeout=60)
        finally:
            ws.close()
        assert states[-1]["status"] == "ready", arena.logs()
        # as-ready reveal: the fast provider's image is shown while the slow one still polls
        partial = [s for s in states if [o["status"] for o in s["outputs"]].count("ready") == 1]
        assert partial, states
        for output in states[-1]["outputs"]:
            image = voter.get(output["url"])
            assert image.headers["Content-Type"] == "image/webp" and len(image.content) > 20
        vote = voter.post(f"/api/battles/{battle['id']}/vote", {"choice": "right"}).json()
        assert {vote["left"]["name"], vote["right"]["name"]} == {"gpt-image-1", "FLUX 1.1 pro"}
        log = (tmp_path / "worker.log").read_text()
        assert log.count("output_generate_task") >= 2 and "succeeded" in log
        costs = arena.manage(
            "shell",
            "-c",
            (
                "from arena.battles.models import Output; print(sorted((o.contender.name, "
                f"str(o.cost)) for o in Output.objects.filter(battle_id='{battle['id']}')))"
            ),
        )
        assert "('FLUX 1.1 pro', '0.03000')" in costs and "('gpt-image-1', '0.04000')" in costs
    finally:
        arena.stop()
