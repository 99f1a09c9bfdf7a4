"""Moderation that look-alike letters cannot get around, and that fails closed.

A blocked term spelt in fullwidth, in Cyrillic or Greek look-alikes, or with invisible characters
inside is still blocked; the same prompt in look-alike letters is the same prompt for the
repeated-prompt rule; a moderation service that cannot answer refuses the prompt with a 503 and
a Retry-After instead of letting every prompt through.
"""

from __future__ import annotations

import importlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from arena.battles import services
from arena.battles.models import Battle, Prompt, prompt_hash
from arena.battles.moderation import ModerationUnavailable, PromptRefused, prompt_moderate
from arena.battles.textnorm import prompt_canonical
from arena.votes.services import vote_cast

BATTLES = "/api/arenas/text-to-image/battles"


@pytest.fixture
def blocklist(settings: Any) -> None:
    settings.ARENA_PROMPT_BLOCKLIST = ["weapon", "gore"]
    settings.ARENA_MODERATION_URL = ""


@pytest.mark.parametrize(
    "prompt",
    [
        "a ＷＥＡＰＯＮ on a table",  # fullwidth
        "a wеаpоn on a table",  # Cyrillic е, а, о
        "a ԜЕАРОΝ on a table",  # Cyrillic/Greek capitals
        "a wеapοn on a table",  # Cyrillic е, Greek ο
        "ｇоｒе in the style of a painting",  # fullwidth and Cyrillic mixed
    ],
)
def test_look_alike_spellings_of_a_blocked_term_are_refused(
    demo_arena: Any, voter: Any, blocklist: None, prompt: str
) -> None:
    response = voter.post(BATTLES, {"prompt": prompt})
    assert response.status_code == 400, prompt
    assert response.json()["error"]["code"] == "prompt_refused"
    assert "blocked term" in response.json()["error"]["message"]
    assert Battle.objects.count() == 0 and not Prompt.objects.filter(source="user").exists()


@pytest.mark.parametrize(
    "joiner", ["\u200b", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u034f", "\ufe0f", "\U000e0101"]
)
def test_a_blocked_term_with_invisible_characters_inside_is_refused(
    blocklist: None, joiner: str
) -> None:
    with pytest.raises(PromptRefused, match="blocked term"):
        prompt_moderate(f"a wea{joiner}p{joiner}on on a table")


def test_look_alikes_do_not_block_innocent_words(
    demo_arena: Any, voter: Any, blocklist: None
) -> None:
    for prompt in (
        "weaponless knight",
        "a gorgeous sunset",
        "Γοργόνα στη θάλασσα",
        "Привет, мир",
        "ＧＯＲＧＥ",
    ):
        assert voter.post(BATTLES, {"prompt": prompt}).status_code == 201, prompt


def test_blocklist_terms_are_canonical_too(settings: Any) -> None:
    settings.ARENA_PROMPT_BLOCKLIST = ["ＷＥＡＰＯＮ"]
    settings.ARENA_MODERATION_URL = ""
    with pytest.raises(PromptRefused):
        prompt_moderate("a weapon")


def test_look_alike_prompts_share_one_hash() -> None:
    plain = prompt_hash("a red fox")
    for variant in (
        "А RЕD FОХ",
        "ａ ｒｅｄ ｆｏｘ",
        "a re\u200bd fox",
        "a  Red\tfοx",
        "a red f\ufe0fox",
    ):
        assert prompt_hash(variant) == plain, variant
    assert prompt_canonical("А RЕD FОХ") == "a red fox"
    assert prompt_hash("a red box") != plain


def test_a_prompt_repeated_in_look_alike_letters_counts_once(
    demo_arena: Any, run_on_commit: Any
) -> None:
    def ready(prompt: str) -> Battle:
        battle = run_on_commit(
            services.battle_create, arena_slug="text-to-image", voter_id="v1", prompt_text=prompt
        )
        return Battle.objects.get(pk=battle.pk)

    first, second = ready("a lighthouse at dusk"), ready("а lіghthоusе аt dusk")  # Cyrillic
    assert first.prompt.text != second.prompt.text
    assert vote_cast(battle_id=first.pk, voter_id="v1", choice="left").vote.is_valid
    repeat = vote_cast(battle_id=second.pk, voter_id="v1", choice="left").vote
    assert not repeat.is_valid and repeat.invalid_reason == "repeated_prompt"


def test_the_migration_recomputes_stored_hashes(db: None) -> None:
    from django.apps import apps

    migration = importlib.import_module("arena.battles.migrations.0004_recompute_prompt_hashes")
    prompt = Prompt.objects.create(text="а red fох")
    Prompt.objects.filter(pk=prompt.pk).update(text_hash="0" * 64)  # as the old code stored it
    migration.recompute(apps, None)
    assert Prompt.objects.get(pk=prompt.pk).text_hash == prompt_hash("a red fox")


# ---------------------------------------------------------------------- remote moderation
class _Failing(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = json.dumps({"error": {"message": "model overloaded"}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_moderation() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1/moderations"
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/moderations"


@pytest.mark.parametrize("down", ["500", "closed"])
def test_a_moderation_service_that_cannot_answer_refuses_with_a_retry(
    demo_arena: Any, voter: Any, settings: Any, failing_moderation: str, down: str
) -> None:
    settings.ARENA_PROMPT_BLOCKLIST = []
    settings.ARENA_MODERATION_URL = failing_moderation if down == "500" else _closed_port_url()
    response = voter.post(BATTLES, {"prompt": "a cat"})
    assert response.status_code == 503
    body = response.json()["error"]
    assert body["code"] == "moderation_unavailable" and "try again" in body["message"]
    assert int(response["Retry-After"]) >= 1
    assert Battle.objects.count() == 0 and not Prompt.objects.filter(source="user").exists()


def test_fail_closed_is_the_default_and_fail_open_is_a_choice(
    settings: Any, failing_moderation: str
) -> None:
    assert _default_fail_closed() is True
    settings.ARENA_PROMPT_BLOCKLIST = []
    settings.ARENA_MODERATION_URL = failing_moderation
    settings.ARENA_MODERATION_FAIL_CLOSED = True
    with pytest.raises(ModerationUnavailable, match="try again"):
        prompt_moderate("a cat")
    settings.ARENA_MODERATION_FAIL_CLOSED = False
    prompt_moderate("a cat")  # the operator chose to let prompts through


def _default_fail_closed() -> bool:
    """ARENA_MODERATION_FAIL_CLOSED as arena/settings.py reads it with the variable unset."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ARENA_MODERATION_FAIL_CLOSED"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import "
            "settings; print(settings.ARENA_MODERATION_FAIL_CLOSED)",
        ],
        env={**env, "DJANGO_SETTINGS_MODULE": "arena.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] == "True"
