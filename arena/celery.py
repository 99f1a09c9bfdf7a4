"""The Celery app. Queues: `default`, `remote` (I/O-bound providers), `gpu` (local models)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

app = Celery("arena")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("remote"), Queue("gpu"))
app.autodiscover_tasks()

_heartbeat_stop: Any = None


@worker_ready.connect
def _heartbeat_start(sender: Any = None, **_: Any) -> None:
    """Tell /healthz this worker is alive and which queues it consumes (arena.ops.health)."""
    global _heartbeat_stop
    from django.conf import settings

    if not settings.REDIS_URL:
        return
    from arena.ops.health import worker_heartbeat_start

    queues = sorted(sender.app.amqp.queues.consume_from)
    _heartbeat_stop = worker_heartbeat_start(hostname=sender.hostname, queues=queues)


@worker_process_init.connect
def _heap_freeze(**_: Any) -> None:
    """A prefork child starts with the parent's whole start-up heap: keep the collector off it
    (arena.ops.heap: full collections re-walked it between tasks)."""
    from arena.ops.heap import startup_heap_freeze

    startup_heap_freeze()


@worker_shutdown.connect
def _heartbeat_end(**_: Any) -> None:
    if _heartbeat_stop is not None:
        _heartbeat_stop.set()
