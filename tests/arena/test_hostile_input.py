"""Hostile input against the JSON API: property-based tests (hypothesis) through Django's client.

Whatever the bytes, paths, query strings or headers:
- the status is never 5xx;
- every 4xx is JSON `{"error": {"code", "message"}}` with a message a person can read;
- a refused request stores no battle, prompt or vote;
- an accepted prompt is stored as sent (only the documented cleaning: control characters
  dropped, outer whitespace stripped; never HTML-escaped), and no HTML page that shows prompts
  (the admin; the battle page fills it in with textContent) serves it unescaped.

Prints `FUZZ hypothesis: N cases, 0 server errors` at the end of the module; the figures are
also listed in the run's figures summary (tests/figures.py) and written to
$ARENA_FIGURES_DIR/fuzz_hypothesis.json when that variable is set.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.battles.models import Battle, BattleStatus, Prompt
from arena.battles.services import prompt_clean
from arena.playground.models import Generation
from arena.votes.models import Vote
from tests.figures import announce

ARENA = "/api/arenas/text-to-image"
FIGURES: dict[str, Any] = {"cases": 0, "requests": 0, "server_errors": 0, "by_status": {}}


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# --- Strategies -------------------------------------------------------------------------------
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><script>",
    "<svg/onload=alert(1)>",
    "{{ 7|add:7 }}",
    "{% debug %}",
    "&lt;b&gt;&amp;",
    "\u202e\u2066",
    "\x00",
    "\x1b[31m",
    "'; DROP TABLE battles_prompt; --",
    "\ufeff",
    "\r\n\r\n",
    "%00%ff",
    "\U0001f98a",
    "e\u0301",
    "\ufdd0\uffff",
]
SURROGATES = st.characters(categories=["Cs"])
any_text = st.text(st.characters() | SURROGATES, max_size=60)
hostile_text = st.one_of(
    any_text,
    st.builds(lambda a, p, b: a + p + b, any_text, st.sampled_from(PAYLOADS), any_text),
    st.builds(lambda c, n: c * n, st.characters(), st.integers(1990, 2010)),  # near the limit
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.integers(min_value=-(10**400), max_value=10**400),
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
battle_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "prompt": json_values | hostile_text,
            "random_prompt": json_values,
            "extra": json_values,
            "mode": st.sampled_from(["side_by_side", "anonymous"]) | json_values,
            "models": st.lists(st.integers(-2, 12), max_size=3) | json_values,
        },
    ),
    st.fixed_dictionaries({"prompt": hostile_text}),
)
generation_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "model": st.integers(-2, 12) | json_values,
            "prompt": json_values | hostile_text,
            "params": json_values,
            "extra": json_values,
        },
    ),
    st.fixed_dictionaries({"model": st.integers(1, 12), "prompt": hostile_text}),
)
# Bodies a JSON encoder never writes: deep nesting, 5,000-digit numbers, lone surrogates.
raw_json = st.one_of(
    st.integers(1, 120_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 120_000).map(lambda n: '{"prompt":' * n + '"x"' + "}" * n),
    st.integers(4000, 6000).map(lambda n: '{"prompt": ' + "9" * n + "}"),
    st.sampled_from(["1e999999", "-1e999999", "NaN", "Infinity", "-0.0e-99999"]).map(
        lambda v: f'{{"prompt": {v}, "random_prompt": {v}, "choice": {v}}}'
    ),
    st.lists(
        st.sampled_from(["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\u0000", "<", "\\"]),
        min_size=1,
        max_size=8,
    ).map(lambda parts: '{"prompt": "' + "".join(parts) + '"}'),
    st.text(max_size=80),
)


def encode(value: Any, ensure_ascii: bool) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=ensure_ascii).encode()
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8: send it \u-escaped
        return json.dumps(value).encode()


# --- Checks -----------------------------------------------------------------------------------
def checked(response: Any, what: str) -> Any:
    """Every response: never 5xx; a 4xx is the API's JSON error with a readable message."""
    status = response.status_code
    FIGURES["requests"] += 1
    FIGURES["by_status"][str(status)] = FIGURES["by_status"].get(str(status), 0) + 1
    if status >= 500:
        FIGURES["server_errors"] += 1
    assert status < 500, f"{what}: {status} {response.content[:400]!r}"
    if 400 <= status < 500 and response.request["REQUEST_METHOD"] != "HEAD":  # HEAD: no body
        assert response["Content-Type"] == "application/json", (
            f"{what}: {status} is not JSON: {response['Content-Type']} {response.content[:200]!r}"
        )
        body = json.loads(response.content)
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        code, message = body["error"]["code"], body["error"]["message"]
        assert isinstance(code, str) and code.strip(), body
        assert isinstance(message, str) and len(message.strip()) >= 10 and " " in message, body
    return response


class Counts:
    """Rows a request may create; a refused request must create none."""

    def __init__(self) -> None:
        self.before = self.now()

    @staticmethod
    def now() -> tuple[int, int, int, int]:
        return (
            Battle.objects.count(),
            Prompt.objects.count(),
            Vote.objects.count(),
            Generation.objects.count(),
        )

    def unchanged(self) -> bool:
        return self.now() == self.before


@pytest.fixture(scope="module", autouse=True)
def _figures(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.perf_counter()
    yield
    FIGURES["seconds"] = round(time.perf_counter() - started, 1)
    line = (
        f"FUZZ hypothesis: {FIGURES['cases']} cases, {FIGURES['server_errors']} server "
        f"errors ({FIGURES['requests']} requests, statuses {FIGURES['by_status']})"
    )
    announce(request.config, "fuzz_hypothesis", line, FIGURES)


@pytest.fixture
def hostile(voter: Any) -> Any:
    """The CSRF-enforcing voter client, answering a crash with a 500 instead of raising."""
    voter.client.raise_request_exception = False
    return voter


def post(
    voter: Any,
    path: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Any:
    return voter.client.post(path, body, content_type=content_type, headers=voter._headers(headers))


# --- Properties -------------------------------------------------------------------------------
@fuzz_settings(150)
@given(body=battle_bodies, ensure_ascii=st.booleans())
def test_battle_create_with_any_json_body(
    demo_arena: Any, hostile: Any, body: Any, ensure_ascii: bool
) -> None:
    FIGURES["cases"] += 1
    counts = Counts()
    raw = encode(body, ensure_ascii)
    response = checked(post(hostile, f"{ARENA}/battles", raw), "create")
    if response.status_code != 201:
        assert counts.unchanged(), f"a refused request ({response.status_code}) stored rows"
        return
    state = response.json()
    battle = Battle.objects.select_related("prompt").get(pk=state["id"])
    assert state["prompt"] == battle.prompt.text
    if isinstance(body, dict) and body.get("random_prompt") is True:
        assert battle.prompt.source == Prompt.Source.BANK
        return
    sent = json.loads(raw)["prompt"]  # as the server read it: an escaped surrogate pair is one
    # character there, though two lone surrogates (both dropped by the cleaning) here
    assert battle.prompt.text == prompt_clean(sent)
    for char in "<>&\"'":  # stored as typed: the server never HTML-escapes
        assert battle.prompt.text.count(char) == sent.count(char), char
    assert "&lt;" not in battle.prompt.text or "&lt;" in sent


@fuzz_settings(120)
@given(body=generation_bodies, ensure_ascii=st.booleans())
def test_generation_create_with_any_json_body(
    demo_arena: Any, hostile: Any, body: Any, ensure_ascii: bool
) -> None:
    FIGURES["cases"] += 1
    counts = Counts()
    raw = encode(body, ensure_ascii)
    response = checked(post(hostile, f"{ARENA}/generations", raw), "generation")
    if response.status_code != 201:
        assert counts.unchanged(), f"a refused request ({response.status_code}) stored rows"
        return
    state = response.json()
    generation = Generation.objects.get(pk=state["id"])
    sent = json.loads(raw)["prompt"]
    assert generation.prompt == state["prompt"] == prompt_clean(sent)
    assert checked(hostile.get(f"/api/generations/{state['id']}"), "read").status_code == 200


@fuzz_settings(100)
@given(raw=raw_json)
def test_battle_create_with_bodies_no_encoder_writes(
    demo_arena: Any, hostile: Any, raw: str
) -> None:
    FIGURES["cases"] += 1
    counts = Counts()
    response = checked(
        post(hostile, f"{ARENA}/battles", raw.encode("utf-8", "surrogatepass")), "create raw"
    )
    if response.status_code != 201:
        assert counts.unchanged()


@fuzz_settings(100)
@given(
    body=st.binary(max_size=400),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/octet-stream",
            "",
        ]
    ),
    path=st.sampled_from([f"{ARENA}/battles", f"/api/battles/{uuid.uuid4()}/vote"]),
)
def test_any_bytes_as_body(
    demo_arena: Any, hostile: Any, body: bytes, content_type: str, path: str
) -> None:
    FIGURES["cases"] += 1
    counts = Counts()
    response = checked(post(hostile, path, body, content_type=content_type), "bytes")
    if response.status_code >= 400:
        assert counts.unchanged()


def ready_battle(voter: Any, n: int) -> str:
    """A battle of this voter, ready to vote on (its outputs are not needed to vote)."""
    created = voter.post(f"{ARENA}/battles", {"prompt": f"a lighthouse in fog, take {n}"})
    assert created.status_code == 201, created.content
    battle_id = created.json()["id"]
    Battle.objects.filter(pk=battle_id).update(status=BattleStatus.READY, ready_at=None)
    return str(battle_id)


CHOICES = st.sampled_from(["left", "right", "tie", "both_bad"])
IDEMPOTENCY_KEYS = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.text(min_size=95, max_size=120),
    st.text(st.characters(codec="ascii"), max_size=20),  # C0 controls, DEL
    st.builds(lambda c, n: c * n, st.characters(), st.integers(90, 5000)),
    st.sampled_from(["\x00", "key\x00", " spaced ", "\u00e9t\u00e9", "\U0001f98a" * 30]),
)


@fuzz_settings(120)
@given(
    body=st.one_of(
        st.fixed_dictionaries({"choice": CHOICES}),  # mostly a valid vote,
        st.fixed_dictionaries({"choice": CHOICES}),  # so the key is exercised
        st.fixed_dictionaries({"choice": json_values}),
        json_values,
    ),
    key=IDEMPOTENCY_KEYS,
    data=st.data(),
)
def test_vote_with_any_choice_and_idempotency_key(
    demo_arena: Any, hostile: Any, body: Any, key: str | None, data: Any
) -> None:
    FIGURES["cases"] += 1
    battle_id = ready_battle(hostile, FIGURES["cases"])
    headers = {"Idempotency-Key": key} if key is not None else None
    counts = Counts()
    path = f"/api/battles/{battle_id}/vote"
    response = checked(post(hostile, path, encode(body, True), headers=headers), "vote")
    if response.status_code != 200:
        assert counts.unchanged()
        assert Battle.objects.get(pk=battle_id).status == BattleStatus.READY
        return
    vote = Vote.objects.get(battle_id=battle_id)
    assert vote.choice == body["choice"] == response.json()["choice"]
    assert vote.idempotency_key == (key or "").strip()
    again = checked(
        post(hostile, path, encode({"choice": data.draw(CHOICES)}, True), headers=headers),
        "vote again",
    )
    if vote.idempotency_key:
        assert again.status_code == 200 and again.json()["replayed"] is True
    else:
        assert again.status_code == 409
    assert Vote.objects.filter(battle_id=battle_id).count() == 1


PATH_TEMPLATES = [
    "/api/arenas/{}/battles",
    "/api/arenas/{}/leaderboard",
    "/api/arenas/{}/votes",
    "/api/battles/{}",
    "/api/battles/{}/vote",
    "/api/{}",
    "/api/arenas/{}",
    "/api/arenas/text-to-image/{}",
    "/api/battles/{}/vote/{}",
    "/api/arenas/{}/generations",
    "/api/generations/{}",
]


@fuzz_settings(150)
@given(
    template=st.sampled_from(PATH_TEMPLATES),
    segment=st.one_of(
        st.text(max_size=40),
        st.uuids().map(str),
        st.binary(max_size=20).map(lambda b: quote_from_bytes(b, safe="")),
        st.sampled_from(["text-to-image", "..", ".", "%2e%2e", "%00", "~"]),
    ),
    quote_it=st.booleans(),
    method=st.sampled_from(["get", "post", "put", "patch", "delete", "options", "head"]),
    with_token=st.booleans(),
)
def test_any_path_segment_and_method(
    demo_arena: Any,
    hostile: Any,
    template: str,
    segment: str,
    quote_it: bool,
    method: str,
    with_token: bool,
) -> None:
    FIGURES["cases"] += 1
    counts = Counts()
    if quote_it:
        segment = quote(segment, safe="")
    segment = segment.replace("?", "%3F").replace("#", "%23")
    path = template.replace("{}", segment)
    headers = hostile._headers(None) if with_token else {}
    call = getattr(hostile.client, method)
    response = checked(
        call(path, b"{}", content_type="application/json", headers=headers)
        if method != "get" and method != "head"
        else call(path, headers=headers),
        f"{method.upper()} {path!r}",
    )
    if response.status_code >= 400:
        assert counts.unchanged()


def query_values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=60).map(lambda t: quote(t, safe="")),
        st.binary(max_size=30).map(lambda b: quote_from_bytes(b, safe="")),
        st.sampled_from(
            ["jsonl", "csv", "JSONL", "csv%00", "", "%ff%fe", "json", "xml", "side_by_side"]
        ),
    )


@fuzz_settings(120)
@given(
    endpoint=st.sampled_from(["leaderboard", "votes"]),
    params=st.lists(
        st.tuples(st.sampled_from(["category", "format", "fragment", "mode", "x"]), query_values()),
        max_size=4,
    ),
)
def test_any_query_string(
    demo_arena: Any, hostile: Any, endpoint: str, params: list[tuple[str, str]]
) -> None:
    FIGURES["cases"] += 1
    query = "&".join(f"{name}={value}" for name, value in params)
    response = checked(hostile.get(f"{ARENA}/{endpoint}?{query}"), f"{endpoint}?{query}")
    if response.status_code == 200 and endpoint == "leaderboard":
        if response["Content-Type"].startswith("text/csv"):
            assert response.content.startswith(b"rank,model,")
        else:
            assert "rows" in response.json()
    elif response.status_code == 200:
        assert b"".join(response.streaming_content) is not None


@fuzz_settings(60)
@given(token=st.text(max_size=80), key=st.text(max_size=40))
def test_wrong_csrf_token_is_a_clear_403(
    demo_arena: Any, hostile: Any, token: str, key: str
) -> None:
    FIGURES["cases"] += 1
    counts = Counts()
    real = hostile.client.cookies["csrftoken"].value
    headers = {"X-CSRFToken": token, "Idempotency-Key": key}
    response = checked(
        hostile.client.post(
            f"{ARENA}/battles",
            b'{"prompt": "a fox"}',
            content_type="application/json",
            headers=headers,
        ),
        "csrf",
    )
    if token != real:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
        assert counts.unchanged()


MARKED = [
    '<script>alert("{m}")</script>',
    '"><img src=x onerror=alert("{m}")>',
    "</textarea><script>window.{m}=1</script>",
    "<svg/onload=alert('{m}')>",
]


@fuzz_settings(40)
@given(before=st.text(max_size=30), payload=st.sampled_from(MARKED), after=st.text(max_size=30))
def test_stored_prompt_is_never_served_unescaped(
    demo_arena: Any, hostile: Any, admin_client: Any, before: str, payload: str, after: str
) -> None:
    FIGURES["cases"] += 1
    marker = f"m{uuid.uuid4().hex[:12]}"
    raw = payload.format(m=marker)
    created = checked(
        post(hostile, f"{ARENA}/battles", encode({"prompt": before + raw + after}, False)), "create"
    )
    assert created.status_code == 201
    battle = Battle.objects.select_related("prompt").get(pk=created.json()["id"])
    assert raw in battle.prompt.text  # stored as typed, not escaped
    admin_client.raise_request_exception = False
    # the battle page is not here: it never holds a prompt (JavaScript fills it in with
    # textContent), so it could not fail; tests/browser/test_xss.py checks what it shows
    pages = {
        "prompt list": admin_client.get("/admin/battles/prompt/"),
        "prompt search": admin_client.get("/admin/battles/prompt/", {"q": marker}),
        "prompt change": admin_client.get(f"/admin/battles/prompt/{battle.prompt.pk}/change/"),
        "battle change": admin_client.get(f"/admin/battles/battle/{battle.pk}/change/"),
    }
    for name, page in pages.items():
        FIGURES["requests"] += 1
        assert page.status_code == 200, (name, page.status_code)
        html = page.content.decode()
        assert marker in html, f"{name} does not show the prompt: this check could not fail"
        assert raw not in html, f"{name} serves the prompt unescaped"
        assert raw.split(marker)[0] + marker not in html, f"{name} serves markup of the prompt"
    listed = pages["prompt list"].content.decode()
    assert marker in listed and "&lt;" in listed  # shown, escaped


def test_malformed_json_explains_itself(demo_arena: Any, hostile: Any) -> None:
    """The fixed messages the properties above rely on, spelled out once."""
    cases = {
        b"[" * 50_000: "nested too deeply",
        b'{"prompt": ' + b"9" * 5000 + b"}": "not valid JSON",
        b"\xff\xfe\x00": "not valid JSON",
        b"[1, 2]": "must be a JSON object",
        b'{"prompt": 7}': "must be text",
        b'{"prompt": "\\u0000\\ud800 "}': "empty",
        b'{"random_prompt": "yes"}': "true or false",
    }
    for body, words in cases.items():
        FIGURES["cases"] += 1
        response = checked(post(hostile, f"{ARENA}/battles", body), repr(body[:20]))
        assert response.status_code == 400 and words in response.json()["error"]["message"]
    FIGURES["cases"] += 1
    put = checked(
        hostile.client.put(
            f"{ARENA}/battles",
            b"{}",
            content_type="application/json",
            headers=hostile._headers(None),
        ),
        "PUT",
    )
    assert put.status_code == 405 and put["Allow"] == "POST"
    FIGURES["cases"] += 1
    key = checked(
        post(
            hostile,
            f"/api/battles/{ready_battle(hostile, 0)}/vote",
            b'{"choice": "left"}',
            headers={"Idempotency-Key": "a\x00b"},
        ),
        "NUL key",
    )
    assert key.status_code == 400 and "control characters" in key.json()["error"]["message"]


def test_malformed_multipart_body_gets_a_json_400(demo_arena: Any, hostile: Any) -> None:
    response = post(hostile, f"{ARENA}/battles", b"--x\r\n", content_type="multipart/form-data")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_multipart_body_is_refused_with_415(demo_arena: Any, hostile: Any) -> None:
    FIGURES["cases"] += 1
    counts = Counts()
    body = b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nfox\r\n--x--\r\n'
    response = checked(
        post(hostile, f"{ARENA}/battles", body, content_type="multipart/form-data; boundary=x"),
        "multipart",
    )
    assert response.status_code == 415 and counts.unchanged()
    FIGURES["cases"] += 1
    big = checked(post(hostile, f"{ARENA}/battles", b" " * 3_000_000), "3 MB")
    assert big.status_code == 413
