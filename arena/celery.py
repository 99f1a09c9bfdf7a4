"""The Celery app. Queues: `default`, `remote` (I/O-bound providers), `gpu` (local models)."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

app = Celery("arena")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("remote"), Queue("gpu"))
app.autodiscover_tasks()
