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
    round trip); statements sent outside any pipeline count as pipelines of one."""
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

    monkeypatch.setattr(psycopg.Connection, "pipeline", pipeline)
    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
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
