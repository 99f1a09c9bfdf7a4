"""A side's generation stays cheap for the database (issue 10): claiming and finishing a side
read what they need in statements of at most four tables (one statement joining the eight
rows of battle, output, arena, prompt, both contenders and both providers cost PostgreSQL ~9 ms
of planning per call), the public state is computed from the rows in hand, and nothing of
what the statements replaced changes: the push, the failure path, the provider health."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from arena.battles import events, generation, selectors, services
from arena.battles.models import Battle, BattleStatus, Contender, Output, OutputStatus


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(events, "battle_state_push", lambda battle_id, state: sent.append(state))
    return sent


def test_a_side_is_a_few_statements_none_of_them_a_wide_join(
    demo_arena: Any, django_capture_on_commit_callbacks: Any
) -> None:
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    left, right = (battle.outputs.get(side=side).pk for side in ("left", "right"))
    generation.output_generate(output_id=left)
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=False),
    ):
        generation.output_generate(output_id=right)
    sql = statements(queries)
    # claim: two conditional UPDATEs (no lock on the battle), battle + outputs; finish:
    # lock + outputs + UPDATE output + UPDATE battle
    assert len(sql) <= 8, sql
    if connection.vendor == "postgresql":  # SQLite has no row locks (nor FOR UPDATE)
        # the claim locks nothing but its own output's row: the other side's claim never waits
        claim = sql[: next(i for i, s in enumerate(sql) if "FOR UPDATE" in s)]
        assert 3 <= len(claim) <= 4 and not [s for s in claim if "FOR UPDATE" in s], claim
    widest = max(s.count(" JOIN ") for s in sql)
    assert widest <= 3, [s for s in sql if s.count(" JOIN ") == widest]
    assert Battle.objects.get(pk=battle.pk).status == BattleStatus.READY


def test_the_battle_turning_ready_is_pushed_once_with_both_sides(
    demo_arena: Any, pushes: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    with django_capture_on_commit_callbacks(execute=True):
        for output in battle.outputs.order_by("side"):
            generation.output_generate(output_id=output.pk)
    assert len(pushes) == 1  # "together": one side finishing changes nothing public
    state = pushes[0]
    assert state["status"] == "ready" and state["prompt"] == "a cat"
    assert [o["status"] for o in state["outputs"]] == ["ready", "ready"]
    assert all(o["url"] and o["content_type"] == "image/webp" for o in state["outputs"])


def test_a_failed_side_pushes_the_battle_failed_with_the_other_side_cancelled(
    demo_arena: Any, pushes: list[dict[str, Any]], django_capture_on_commit_callbacks: Any
) -> None:
    battle = services.battle_create(
        arena_slug="text-to-image", voter_id="v", prompt_text="something forbidden"
    )
    first = battle.outputs.get(side="left")
    with django_capture_on_commit_callbacks(execute=True):
        generation.output_generate(output_id=first.pk)
    assert len(pushes) == 1
    state = pushes[0]
    assert state["status"] == "failed" and "Model A" in str(state["failure"])
    assert [o["status"] for o in state["outputs"]] == ["failed", "failed"]
    other = Output.objects.get(battle=battle, side="right")
    assert other.status == OutputStatus.FAILED and other.error_code == "cancelled"


def test_a_success_still_resets_a_failure_streak(demo_arena: Any) -> None:
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    output = battle.outputs.get(side="left")
    Contender.objects.filter(pk=output.contender_id).update(failure_streak=2)
    generation.output_generate(output_id=output.pk)
    assert Contender.objects.get(pk=output.contender_id).failure_streak == 0


def test_creating_a_battle_reads_neither_it_back_nor_its_arena_twice(
    demo_arena: Any, voter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The answer to the POST is the battle as stored, from the objects in hand."""
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=False),
    ):
        response = voter.post("/api/arenas/text-to-image/battles", {"prompt": "a cat"})
    assert response.status_code == 201, response.content
    state = response.json()
    assert state["status"] == "pending" and state["prompt"] == "a cat"
    assert [o["status"] for o in state["outputs"]] == ["pending", "pending"]
    reads = [s for s in statements(queries) if s.startswith("SELECT")]
    assert not [s for s in reads if 'FROM "battles_battle"' in s or 'FROM "battles_output"' in s]
    assert len([s for s in reads if 'FROM "battles_arena"' in s]) == 1, reads


@pytest.mark.django_db(transaction=True)
def test_a_side_holds_no_database_connection_while_its_provider_works(
    demo_arena: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """A remote provider can take minutes: a `remote` worker thread holding its pooled
    connection meanwhile would let only DB_POOL_MAX generations wait at once (32 threads,
    12 connections by default in `make prod`); the rest would wait for the pool, then fail."""
    if connection.vendor != "postgresql":
        pytest.skip("connections are pooled on PostgreSQL (SQLite's test database is in memory)")
    from generators.base import get_generator

    held: list[bool] = []

    def watched(config: Any) -> Any:
        generator = get_generator(config)
        real = generator.generate

        def generate(request: Any) -> Any:
            held.append(connection.connection is not None)
            return real(request)

        generator.generate = generate  # type: ignore[method-assign]
        return generator

    monkeypatch.setattr(generation, "get_generator", watched)
    with django_capture_on_commit_callbacks(execute=False):
        battle = services.battle_create(
            arena_slug="text-to-image", voter_id="v", prompt_text="a cat"
        )
    for output in battle.outputs.order_by("side"):
        generation.output_generate(output_id=output.pk)
    assert held == [False, False]
    assert Battle.objects.get(pk=battle.pk).status == BattleStatus.READY


def _pending_battle() -> Battle:
    """A battle whose sides are queued but not started (in a transactional test its tasks run
    at the commit: put it back as it stood before them)."""
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    Battle.objects.filter(pk=battle.pk).update(status=BattleStatus.PENDING, ready_at=None)
    Output.objects.filter(battle=battle).update(
        status=OutputStatus.PENDING, attempts=0, started_at=None, finished_at=None
    )
    return battle


def _while_failed_in_another_transaction(battle: Battle, claim: Any) -> list[Any]:
    """Run `claim` while another transaction fails the battle (its right side had an error:
    the pending left side is cancelled) and holds its locks; the claim waits for them, then
    sees the commit. Returns what `claim` returned."""
    import threading
    import time

    from django.db import transaction

    from arena.battles.errors import FailureCode

    locked, commit = threading.Event(), threading.Event()

    def fail() -> None:
        try:
            with transaction.atomic():
                held = Battle.objects.select_for_update().select_related("arena").get(pk=battle.pk)
                services.battle_fail(held, side="right", code=FailureCode.PROVIDER_ERROR)
                locked.set()
                commit.wait(10)
        finally:
            connection.close()

    def run(out: list[Any]) -> None:
        try:
            out.append(claim())
        except Exception as exc:  # reported by the assertion below
            out.append(exc)
        finally:
            connection.close()

    failing = threading.Thread(target=fail)
    failing.start()
    assert locked.wait(10)
    result: list[Any] = []
    claiming = threading.Thread(target=run, args=(result,))
    claiming.start()
    time.sleep(0.3)
    assert claiming.is_alive(), ("the claim should wait for the failing transaction", result)
    commit.set()
    failing.join(10)
    claiming.join(10)
    return result


@pytest.mark.django_db(transaction=True)
def test_a_claim_waiting_on_a_battle_failing_does_not_take_the_cancelled_side(
    demo_arena: Any,
) -> None:
    """A side cancelled while its claim waited for the row is not generated (found in review:
    a filter across the battle relation put the output's status check in a subquery that
    PostgreSQL does not re-check after the wait, so the cancelled side was claimed anyway)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    battle = _pending_battle()
    left = battle.outputs.get(side="left")
    assert _while_failed_in_another_transaction(battle, lambda: generation._claim(left.pk)) == [
        None
    ]
    left.refresh_from_db()
    assert (left.status, left.attempts) == (OutputStatus.FAILED, 0)
    assert Battle.objects.get(pk=battle.pk).status == BattleStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_battle_failed_while_a_claim_waited_stays_failed(demo_arena: Any) -> None:
    """The claim's pending -> generating waits for the battle's row; a battle failed in the
    meantime is not brought back to generating (found in review, same cause as above)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    battle = _pending_battle()
    left = battle.outputs.get(side="left")
    Output.objects.filter(pk=left.pk).update(status=OutputStatus.GENERATING)  # a redelivery
    assert _while_failed_in_another_transaction(battle, lambda: generation._claim(left.pk)) == [
        None
    ]
    assert Battle.objects.get(pk=battle.pk).status == BattleStatus.FAILED


def test_a_loaded_battle_needs_no_further_query(demo_arena: Any) -> None:
    """The claim's and the finish's read (arena.rows) hand over everything a side and the
    public state use: arena, prompt, both contenders with their providers, each output's
    contender and battle."""
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    output_id = battle.outputs.get(side="left").pk
    for lock in (False, True):
        with transaction.atomic():
            loaded = selectors.battle_of_output(output_id, lock=lock)
            assert loaded is not None
            with CaptureQueriesContext(connection) as queries:
                seen = [loaded.arena.slug, loaded.prompt.text]
                seen += [loaded.left.provider.kind, loaded.right.provider.kind]
                for output in loaded.outputs.all():
                    assert output.contender is not None and output.battle is loaded
                    seen.append(output.contender.provider.name)
                seen.append(selectors.battle_state(loaded)["status"])
            assert queries.captured_queries == [], queries.captured_queries
        assert seen[:2] == ["text-to-image", "a cat"] and len(seen) == 7
        assert [o.side for o in loaded.outputs.all()] == ["left", "right"]
        assert {loaded.left.pk, loaded.right.pk} == {battle.left_id, battle.right_id}


def test_an_output_whose_contender_is_gone_reads_as_none(demo_arena: Any) -> None:
    """An output's contender may be NULL (the outer join finds no row): it loads as None."""
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    Output.objects.filter(battle=battle, side="left").update(contender=None)
    loaded = selectors.battle_get(battle_id=battle.pk)
    contenders = {o.side: o.contender for o in loaded.outputs.all()}
    assert contenders["left"] is None and contenders["right"] is not None
    assert contenders["right"].provider.kind == "demo"


def test_a_sides_statements_are_prepared(demo_arena: Any) -> None:
    """Claiming and finishing run the statements written once per process, prepared once
    per connection (PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    for output in battle.outputs.order_by("side"):
        generation.output_generate(output_id=output.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(s.startswith('UPDATE "battles_output" SET status') for s in prepared), prepared
    locked = [s for s in prepared if 'FOR UPDATE OF "b"' in s or 'FOR UPDATE OF "o"' in s]
    assert len(locked) == 2, prepared
    assert Battle.objects.get(pk=battle.pk).status == BattleStatus.READY
