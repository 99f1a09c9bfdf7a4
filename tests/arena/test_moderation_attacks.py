"""Second round of blocklist attacks: spellings a person reads as the blocked term that the
first canonical form let through, and ordinary non-Latin prompts that must still pass.

Combining marks (an accent, an overlay, an enclosing keycap) on the letters of a blocked term,
Latin small capitals and negative circled or squared letters were not folded; now they are,
while the marks of other scripts (Russian "й", Hindi vowel signs, Hebrew points) are kept.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from arena.battles.models import Battle, prompt_hash
from arena.battles.moderation import ModerationUnavailable, PromptRefused, prompt_moderate
from arena.battles.textnorm import prompt_canonical

BATTLES = "/api/arenas/text-to-image/battles"


@pytest.fixture
def blocklist(settings: Any) -> None:
    settings.ARENA_PROMPT_BLOCKLIST = ["weapon", "gore", "bomb"]
    settings.ARENA_MODERATION_URL = ""


@pytest.mark.parametrize(
    "prompt",
    [
        "a wéápón on a table",  # precomposed accents
        "a we\u0301apon on a table",  # combining acute
        "a w\u0337e\u0337a\u0337p\u0337o\u0337n\u0337",  # combining overlay (strikethrough)
        "a b\u20e3o\u20e3m\u20e3b\u20e3 emoji",  # enclosing keycap
        "a bomb\u0308\u0308\u0308 cartoon",  # marks stacked on the last letter
        "a ᴡᴇᴀᴘᴏɴ on a table",  # Latin small capitals
        "a 🅑🅞🅜🅑 sign",  # negative circled letters
        "a 🅱🅾🅼🅱 sign",  # negative squared letters
        "a ВȍМВ",  # Cyrillic with a double grave
        "gö\u0323re\u0301 scene",  # two marks on one letter
        "a bømb and a ƀomb",  # letters with a stroke
    ],
)
def test_decorated_spellings_of_a_blocked_term_are_refused(
    demo_arena: Any, voter: Any, blocklist: None, prompt: str
) -> None:
    response = voter.post(BATTLES, {"prompt": prompt})
    assert response.status_code == 400, (prompt, prompt_canonical(prompt))
    assert response.json()["error"]["code"] == "prompt_refused"
    assert Battle.objects.count() == 0


@pytest.mark.parametrize(
    "prompt",
    [
        "Кот в сапогах гуляет по зимнему лесу",  # Russian
        "ЙОД И ИОД, натюрморт",
        "Μια γάτα κοιμάται στον ήλιο",  # Greek
        "Γοργόνα στη θάλασσα",
        "Café au lait, résumé of a naïve painter",  # accents on innocent Latin words
        "नमस्ते दुनिया, एक सुंदर सूर्योदय",  # Hindi (vowel signs are marks)
        "שָׁלוֹם עוֹלָם",  # Hebrew with points
        "مرحبا بالعالم",  # Arabic
        "Tiếng Việt: phở bò",  # Vietnamese stacked marks
        "ᴀ ꜱᴍᴀʟʟ ᴄᴀᴘꜱ ꜰᴏx",  # small capitals, innocent
    ],
)
def test_innocent_prompts_in_other_scripts_pass(
    demo_arena: Any, voter: Any, blocklist: None, prompt: str
) -> None:
    assert voter.post(BATTLES, {"prompt": prompt}).status_code == 201, prompt_canonical(prompt)


def test_marks_of_other_scripts_are_kept() -> None:
    assert prompt_canonical("йод") != prompt_canonical("иод")
    assert prompt_canonical("नमस्ते") == "नमस्ते"
    assert prompt_canonical("שָׁלוֹם") == "שָׁלוֹם"
    assert prompt_canonical("Tiếng Việt") == "tieng viet"
    assert prompt_canonical("Łódź, Ørsted") == "lodz, orsted"


def test_decorated_prompts_share_one_hash() -> None:
    plain = prompt_hash("a red fox")
    for variant in ("a ŕéd fox", "a re\u0301d fo\u0308x", "ᴀ ʀᴇᴅ ꜰᴏx", "a r\u0337ed fox"):
        assert prompt_hash(variant) == plain, variant


def test_a_blocked_term_with_a_mark_is_refused_without_the_api(blocklist: None) -> None:
    with pytest.raises(PromptRefused, match="blocked term"):
        prompt_moderate("bo\u0301mb")


# ---------------------------------------------------------------------- remote moderation
def _answering(payload: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.mark.parametrize(
    "answer",
    [
        {"results": [{"flagged": None}]},
        {"results": [{"flagged": "false"}]},
        {"results": [{"flagged": 0}]},
        {"results": [{}]},
        {"results": []},
        {"results": {}},
        [{"flagged": False}],
        {"results": ["false"]},
    ],
)
def test_a_moderation_answer_that_is_not_true_or_false_does_not_let_the_prompt_through(
    settings: Any, answer: object
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _answering(json.dumps(answer).encode()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.ARENA_PROMPT_BLOCKLIST = []
        settings.ARENA_MODERATION_URL = f"http://127.0.0.1:{server.server_port}/v1/moderations"
        settings.ARENA_MODERATION_FAIL_CLOSED = True
        with pytest.raises(ModerationUnavailable):
            prompt_moderate("a cat")
    finally:
        server.shutdown()
        server.server_close()
