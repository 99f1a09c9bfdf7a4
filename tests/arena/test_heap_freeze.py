"""Server processes freeze their start-up heap (arena.ops.heap): the garbage collector's full
collections re-walked ~150,000 long-lived objects, 110-330 ms per collection in a granian
process under the vote load, and those pauses were the votes' p99 (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.arena.test_deploy_settings import python_in

# After start-up, what the collector still walks must be a small part of the heap.
REPORT = (
    "import gc, json; {start}; print(json.dumps([gc.get_freeze_count(), len(gc.get_objects())]))"
)


def heap_after(start: str, tmp_path: Path) -> tuple[int, int]:
    done = python_in(REPORT.format(start=start), {"ARENA_VAR_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    frozen, walked = json.loads(done.stdout.strip().splitlines()[-1])
    return frozen, walked


def test_a_web_process_freezes_its_start_up_heap(tmp_path: Path) -> None:
    frozen, walked = heap_after("import arena.ops.asgi", tmp_path)
    assert frozen > 20_000, frozen
    assert walked < frozen / 10, (frozen, walked)


def test_a_worker_process_freezes_its_heap_when_it_starts(tmp_path: Path) -> None:
    start = (
        "import django; django.setup(); from arena.celery import app; "
        "from celery.signals import worker_process_init; worker_process_init.send(sender=None)"
    )
    frozen, walked = heap_after(start, tmp_path)
    assert frozen > 20_000, frozen
    assert walked < frozen / 10, (frozen, walked)
