"""OpenAPI-driven fuzzing (schemathesis) of a live arena: daphne on SQLite, demo models.

Schemathesis reads the served /api/openapi.json and, per operation, sends the document's
examples, its coverage cases (boundaries, missing and wrong-typed fields, undeclared methods)
and up to MAX_EXAMPLES fuzzed cases, valid and invalid. Every response must not be a server
error and must match the document (status, content type, headers, body schema). The voter is a
real browser-like session (CSRF cookie + X-CSRFToken, session cookie) that owns ready battles,
so battle reads and votes also reach real battles, not only 404s.

Prints `FUZZ schemathesis: N cases, 0 server errors`; the figures are also listed in the run's
figures summary (tests/figures.py) and written to $ARENA_FIGURES_DIR/fuzz_schemathesis.json
when that variable is set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.figures import announce
from tests.live import LiveArena, Voter

pytestmark = pytest.mark.services

MAX_EXAMPLES = 50  # fuzzed cases per operation, on top of the examples and coverage phases
NO_LIMITS = {
    "ARENA_RATE_BATTLES_PER_VOTER": "0",
    "ARENA_RATE_VOTES_PER_VOTER": "0",
    "ARENA_RATE_BATTLES_PER_ADDRESS": "0",
    "ARENA_RATE_VOTES_PER_ADDRESS": "0",
}
# Not negative_data_rejection / positive_data_acceptance: the API deliberately cleans prompts
# (control characters dropped, outer whitespace stripped) before its length and emptiness
# rules, which no JSON Schema can express, and ignores `prompt` when `random_prompt` is true.
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    unsupported_method,
]
FIGURES: dict[str, Any] = {
    "cases": 0,
    "server_errors": 0,
    "by_operation": {},
    "by_status": {},
    "by_phase": {},
}


@dataclass
class Fuzzing:
    arena: LiveArena
    voter: Voter
    battles: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.voter.http.cookies["csrftoken"]}


def wait_for(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ready_battle(voter: Voter, body: dict[str, Any]) -> str:
    created = voter.post("/api/arenas/text-to-image/battles", body)
    assert created.status_code == 201, created.text
    battle_id = created.json()["id"]
    wait_for(
        lambda: voter.get(f"/api/battles/{battle_id}").json()["status"] == "ready",
        f"battle {battle_id} to be ready",
    )
    return str(battle_id)


def ready_generation(voter: Voter) -> str:
    """A finished playground generation of this voter (a battle id there reads as a 404)."""
    model = voter.get("/api/arenas/text-to-image/models").json()[0]["id"]
    created = voter.post(
        "/api/arenas/text-to-image/generations", {"model": model, "prompt": "a harbour"}
    )
    assert created.status_code == 201, created.text
    generation_id = created.json()["id"]
    wait_for(
        lambda: voter.get(f"/api/generations/{generation_id}").json()["status"] == "ready",
        f"generation {generation_id} to be ready",
    )
    return str(generation_id)


@pytest.fixture(scope="module")
def fuzzing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzing]:
    """A live arena with a leaderboard snapshot (one counted vote) and ready battles."""
    arena = LiveArena(
        tmp_path_factory.mktemp("fuzz-live"),
        extra_env={
            **NO_LIMITS,
            "ARENA_LEADERBOARD_DEBOUNCE_S": "0.1",
            "ARENA_BOOTSTRAP_ROUNDS": "20",
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        arena.start()
        voter = Voter(arena)
        voted = ready_battle(voter, {"random_prompt": True})  # a bank prompt has a category
        assert voter.post(f"/api/battles/{voted}/vote", {"choice": "left"}).status_code == 200
        wait_for(
            lambda: voter.get("/api/arenas/text-to-image/leaderboard").json()["method"] == "bt",
            "the first leaderboard snapshot",
        )
        state = Fuzzing(arena, voter, [voted])
        state.battles += [
            ready_battle(voter, {"prompt": f"a harbour at dusk, {n}"}) for n in range(3)
        ]
        state.battles.append(ready_generation(voter))  # for GET /api/generations/{id}
        yield state
    finally:
        arena.stop()
        logs = arena.logs()
        if "Traceback" in logs:
            print(logs)  # shown with the failure (or -s): a crash the responses did not show


@pytest.fixture
def api_schema(fuzzing: Fuzzing) -> Any:
    schema = schemathesis.openapi.from_url(f"{fuzzing.arena.base}/api/openapi.json", timeout=10)
    schema.config.update(base_url=fuzzing.arena.base)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, modes=["positive", "negative"])
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        # Half of the cases name the real arena or one of the voter's real battles (ready or
        # voted), so body, query and header fuzzing reaches the rules behind the 404 (vote
        # rules, categories, export formats) and the schemas are checked on real states; the
        # other half keep the generated (unknown or malformed) slug or id.
        if not path_parameters:
            return st.just(path_parameters)
        real = dict(path_parameters)
        if "slug" in real:
            real["slug"] = "text-to-image"
        if "id" not in real:
            return st.sampled_from([path_parameters, real])
        return st.just(path_parameters) | st.sampled_from(fuzzing.battles).map(
            lambda battle: {**real, "id": battle}
        )

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module", autouse=True)
def _figures(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.perf_counter()
    yield
    FIGURES["seconds"] = round(time.perf_counter() - started, 1)
    line = (
        f"FUZZ schemathesis: {FIGURES['cases']} cases, {FIGURES['server_errors']} server "
        f"errors (by phase {FIGURES['by_phase']}, statuses {FIGURES['by_status']})"
    )
    announce(request.config, "fuzz_schemathesis", line, FIGURES)


def _count(key: str, value: str) -> None:
    FIGURES[key][value] = FIGURES[key].get(value, 0) + 1


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any, fuzzing: Fuzzing) -> None:
    response = case.call(session=fuzzing.voter.http, headers=fuzzing.headers, timeout=30)
    FIGURES["cases"] += 1
    declared = case.method.upper() == case.operation.method.upper()
    _count("by_operation", case.operation.label if declared else "undeclared methods (405)")
    _count("by_status", str(response.status_code))
    _count(
        "by_phase",
        f"{case.meta.phase.name.value}/{case.meta.generation.mode.value}"
        if case.meta
        else "explicit",
    )
    if response.status_code >= 500:
        FIGURES["server_errors"] += 1
    case.validate_response(response, checks=CHECKS, headers=fuzzing.headers)
