"""The micro-batcher: requests that arrive within a short window with the same call
parameters become one pipeline call, run by the one thread that owns the pipeline."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from generators.base import ProviderError


@dataclass
class Job:
    """One request waiting for a pipeline call."""

    prompt: str
    seed: int
    kwargs: dict[str, Any]  # identical for every job of one batch
    max_batch: int
    window_s: float
    future: Future[Any] = field(default_factory=Future)
    signature: str = ""

    def __post_init__(self) -> None:
        if not self.signature:
            self.signature = json.dumps(self.kwargs, sort_keys=True, default=repr)


class MicroBatcher:
    """Collects jobs arriving within a window and runs them as one call on one thread.

    `run_batch(jobs)` returns one item per job: the output, or an exception for that job. Jobs
    are batched only with jobs of the same signature (size, steps, frames...), up to the first
    job's `max_batch`; the others wait for a later call in their arrival order. A lone job
    waits at most `window_s` before it runs alone.
    """

    def __init__(self, name: str, run_batch: Callable[[list[Job]], list[Any]]) -> None:
        self.name = name
        self._run_batch = run_batch
        self._pending: deque[Job] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batch_sizes: list[int] = []  # one entry per pipeline call (tests, the bench)

    def submit(self, job: Job) -> Future[Any]:
        with self._cond:
            if self._closed:
                raise ProviderError(f"{self.name}: pipeline was unloaded; retry")
            self._pending.append(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, daemon=True, name=f"diffusers-batcher-{self.name}"
                )
                self._thread.start()
            self._cond.notify_all()
        return job.future

    def close(self) -> None:
        """Stop after the jobs already queued."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)

    def _take_matching(self, first: Job, batch: list[Job]) -> None:
        keep: deque[Job] = deque()
        while self._pending:
            job = self._pending.popleft()
            if len(batch) < first.max_batch and job.signature == first.signature:
                batch.append(job)
            else:
                keep.append(job)
        self._pending = keep

    def _collect(self) -> list[Job] | None:
        with self._cond:
            while not self._pending:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._pending.popleft()
            batch = [first]
            deadline = time.monotonic() + first.window_s
            while True:
                self._take_matching(first, batch)
                left = deadline - time.monotonic()
                if len(batch) >= first.max_batch or left <= 0 or self._closed:
                    return batch
                self._cond.wait(left)

    def _loop(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            # Jobs whose caller gave up (deadline) before the call are dropped here.
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not live:
                continue
            self.batch_sizes.append(len(live))
            try:
                outputs = self._run_batch(live)
            except BaseException as exc:  # the thread must survive anything
                outputs = [
                    ProviderError(f"{self.name}: batch failed: {type(exc).__name__}: {exc}")
                    for _ in live
                ]
            for job, out in zip(live, outputs, strict=True):
                if isinstance(out, BaseException):
                    job.future.set_exception(out)
                else:
                    job.future.set_result(out)
