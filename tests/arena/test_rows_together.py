"""`arena.rows.run_together`: statements sent at once (one round trip on PostgreSQL) that
behave as one transaction, and the side's claim, which is built on it (issue 10)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from arena.battles import generation, services
from arena.battles.models import Battle, BattleStatus, Output, OutputStatus
from arena.rows import RowsRead, Statement, run_together, table


def _retitle() -> Statement:
    return Statement(lambda: f"UPDATE {table(Output)} SET error = %s WHERE id = %s")


def _errors() -> RowsRead:
    return RowsRead(
        ((Output, "o", ("id", "error")),), lambda: f"FROM {table(Output)} o WHERE o.id = %s"
    )


@pytest.fixture
def output(demo_arena: Any) -> Output:
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    return battle.outputs.get(side="left")


@pytest.fixture
def pipelines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many statements each psycopg pipeline sent (a pipeline's statements go in one
    round trip), negative when a COMMIT went with them; statements sent outside any
    pipeline count as pipelines of one."""
    sent: list[int] = []
    real_pipeline = psycopg.Connection.pipeline
    real_execute = psycopg.Cursor.execute

    def pipeline(self: psycopg.Connection[Any]) -> Any:
        sent.append(0)
        return real_pipeline(self)

    def execute(self: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
        if self.connection._pipeline is not None:
            sent[-1] += 1
        else:
            sent.append(1)
        return real_execute(self, *args, **kwargs)

    def commit(self: psycopg.Connection[Any]) -> None:
        # a COMMIT sent in a pipeline: recorded as a negative count of what went with it
        if self._pipeline is not None:
            sent[-1] = -sent[-1]
            sent.append(0)  # what the same pipeline sends after the commit
        real_commit(self)

    real_commit = psycopg.Connection.commit
    monkeypatch.setattr(psycopg.Connection, "pipeline", pipeline)
    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    monkeypatch.setattr(psycopg.Connection, "commit", commit)
    return sent


def test_results_come_back_in_order_and_later_reads_see_earlier_writes(output: Output) -> None:
    changed, rows = run_together(
        (_retitle(), ["seen by the read", output.pk]), (_errors(), [output.pk])
    )
    assert changed == 1
    assert isinstance(rows, list)
    (loaded,), _ = rows[0]
    assert isinstance(loaded, Output) and loaded.error == "seen by the read"


@pytest.mark.django_db(transaction=True)
def test_a_failing_statement_undoes_the_ones_before_it(output: Output) -> None:
    """One transaction: the UPDATE sent before a statement that fails is rolled back, and
    the error is Django's (what callers and the request handler expect)."""
    broken = Statement(lambda: f"UPDATE {table(Output)} SET token = NULL WHERE id = %s")
    with pytest.raises(DatabaseError):
        run_together((_retitle(), ["never kept", output.pk]), (broken, [output.pk]))
    assert Output.objects.get(pk=output.pk).error == ""
    # the connection is usable afterwards
    assert run_together((_errors(), [output.pk]))[0] != []


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_they_are_part_of_it(output: Output) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        run_together((_retitle(), ["rolled back with its caller", output.pk]))
        raise RuntimeError
    assert Output.objects.get(pk=output.pk).error == ""


def test_on_postgresql_they_go_in_one_pipeline(output: Output, pipelines: list[int]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pipeline mode is PostgreSQL's")
    run_together((_retitle(), ["x", output.pk]), (_errors(), [output.pk]), (_errors(), [0]))
    assert pipelines == [3]


def test_a_sides_claim_is_one_round_trip(output: Output, pipelines: list[int]) -> None:
    """The claim's two conditional UPDATEs and its two reads are sent together (issue 10:
    each round trip of a side waited for a busy core)."""
    if connection.vendor != "postgresql":
        pytest.skip("pipeline mode is PostgreSQL's")
    connection.ensure_connection()
    claimed = generation._claim(output.pk)
    assert claimed is not None and claimed.status == OutputStatus.GENERATING
    assert claimed.battle.status == BattleStatus.GENERATING
    assert pipelines == [4]
    assert Battle.objects.get(pk=claimed.battle.pk).status == BattleStatus.GENERATING
    assert Output.objects.get(pk=output.pk).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_finished_side_sends_its_writes_with_the_commit(
    demo_arena: Any, pipelines: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finish's two locked reads go together, then the output's and the battle's
    UPDATEs are queued and sent with the COMMIT (issue 10); what commits is what a save
    would have written, and the push follows the commit."""
    if connection.vendor != "postgresql":
        pytest.skip("pipeline mode is PostgreSQL's")
    from arena.battles import events

    pushed: list[tuple[str, bool]] = []

    def push(battle_id: Any, state: dict[str, Any]) -> None:
        committed = Battle.objects.get(pk=battle_id).status  # another read: after the commit
        pushed.append((state["status"], committed == BattleStatus.READY))

    monkeypatch.setattr(events, "battle_state_push", push)
    monkeypatch.setattr(services, "_enqueue_or_fail", lambda *args: None)  # sides run below
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    left, right = (battle.outputs.get(side=side).pk for side in ("left", "right"))
    generation.output_generate(output_id=left)
    pipelines.clear()
    generation.output_generate(output_id=right)
    # the claim; the finish's reads; its two UPDATEs with the COMMIT; (after the commit, in
    # the same pipeline, the metrics' first look-up of the provider's kind and the test's read)
    assert pipelines[:3] == [4, 2, -2], pipelines
    stored = Output.objects.get(pk=right)
    assert stored.status == OutputStatus.READY and stored.file.name.endswith(".webp")
    assert stored.finished_at is not None and stored.params_used["delivered"]
    assert Battle.objects.get(pk=battle.pk).ready_at is not None
    assert pushed[-1] == ("ready", True)


@pytest.mark.django_db(transaction=True)
def test_a_finish_that_fails_after_a_queued_write_failed_keeps_its_connection(
    demo_arena: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queued UPDATE that failed (its error not read yet) and then an exception in the
    block: the rollback must not be the first to read that error, or Django drops the
    connection, back to the pool while still in pipeline mode (another thread waiting for
    one would get it so, and this one's pipeline would later be ended under it)."""
    if connection.vendor != "postgresql":
        pytest.skip("pipeline mode is PostgreSQL's")
    from psycopg_pool import ConnectionPool

    monkeypatch.setattr(services, "_enqueue_or_fail", lambda *args: None)
    battle = services.battle_create(arena_slug="text-to-image", voter_id="v", prompt_text="a cat")
    left = battle.outputs.get(side="left").pk
    assert generation._claim(left) is not None
    returned_in_pipeline: list[bool] = []
    real_putconn = ConnectionPool.putconn

    def putconn(self: Any, conn: Any) -> None:
        returned_in_pipeline.append(conn._pipeline is not None)
        real_putconn(self, conn)

    monkeypatch.setattr(ConnectionPool, "putconn", putconn)

    def broken(**kwargs: Any) -> bool:
        raise RuntimeError("after the writes were queued")

    monkeypatch.setattr(generation, "contender_output_finished", broken)
    # the output's UPDATE fails too (too long a value): queued, so the block's own error is
    # what comes out; unqueued (DB_PREPARED_STATEMENTS=0), the UPDATE's, at once
    with pytest.raises(RuntimeError if connection.connection.prepare_threshold else DatabaseError):
        generation._finish(left, fields={"input_sha256": "x" * 100})
    assert True not in returned_in_pipeline
    assert Output.objects.get(pk=left).status == OutputStatus.GENERATING  # rolled back
