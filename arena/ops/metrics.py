"""Prometheus metrics: counted where the events happen, exposed at /metrics.

Several web processes and Celery workers each count their own events. When
`PROMETHEUS_MULTIPROC_DIR` is set (the `make prod` launcher sets it under ARENA_VAR_DIR and
empties it at start), prometheus_client writes every process's values to files there and a
scrape sums them (MultiProcessCollector), so /metrics on any web process shows the totals of
all processes on this host, workers included. Without it (the embedded default, one process)
the values live in the process.

The hooks are one call each, where the event is known to have happened:
- votes and battles: `post_save` receivers (connected in `arena.ops.apps`), counted on commit;
  `vote_recorded()` / `battle_created()` for code that stores them without the ORM's save;
- generation: `generation_finished()` where an output is finished (arena/battles/generation.py);
- leaderboard refresh: `@refresh_timed` on the function that computes the boards.
The queue depth and live workers are read from Redis at scrape time (`arena.ops.health`).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from django.db import transaction
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

VOTES = Counter(
    "arena_votes",
    "Votes stored, by arena and whether they count for the ratings.",
    ["arena", "counted"],
)
BATTLES = Counter("arena_battles", "Battles created, by arena.", ["arena"])
INSTANT_BATTLES = Counter(
    "arena_instant_battles",
    "Battles made ready at once from outputs made in advance (instant battles), by arena.",
    ["arena"],
)
GENERATION = Histogram(
    "arena_generation_seconds",
    "Time from a side's first claim by a worker to its stored result, by provider kind and "
    "outcome (ok or the error code).",
    ["kind", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
)
REFRESH = Histogram(
    "arena_leaderboard_refresh_seconds",
    "Wall time of one leaderboard recompute (every board of an arena), by arena and outcome.",
    ["arena", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600),
)

_names: dict[tuple[str, object], tuple[float, str]] = {}
_NAME_TTL_S = 300.0


def _cached(kind: str, key: object, load: Callable[[], str]) -> str:
    """Arena slugs and provider kinds by id: one query per id and process every few minutes,
    never one per event."""
    now = time.monotonic()
    hit = _names.get((kind, key))
    if hit is not None and now - hit[0] < _NAME_TTL_S:
        return hit[1]
    value = load()
    _names[(kind, key)] = (now, value)
    return value


def _arena_slug(arena_id: int) -> str:
    from arena.battles.models import Arena

    return _cached(
        "arena",
        arena_id,
        lambda: str(
            Arena.objects.filter(pk=arena_id).values_list("slug", flat=True).first() or arena_id
        ),
    )


def _provider_kind(contender_id: int) -> str:
    from arena.battles.models import Contender

    return _cached(
        "kind",
        contender_id,
        lambda: str(
            Contender.objects.filter(pk=contender_id)
            .values_list("provider__kind", flat=True)
            .first()
            or "unknown"
        ),
    )


def _safely(fn: Callable[[], None]) -> None:
    """A metric must never break the write it describes."""
    try:
        fn()
    except Exception:
        logger.exception("could not record a metric")


def vote_recorded(*, arena_id: int, counted: bool) -> None:
    """Count a stored vote once its transaction commits (at once outside a transaction)."""

    def inc() -> None:
        VOTES.labels(arena=_arena_slug(arena_id), counted="yes" if counted else "no").inc()

    transaction.on_commit(lambda: _safely(inc))


def battle_created(*, arena_id: int) -> None:
    """Count a created battle once its transaction commits."""
    transaction.on_commit(
        lambda: _safely(lambda: BATTLES.labels(arena=_arena_slug(arena_id)).inc())
    )


def generation_finished(*, output: Any, outcome: str) -> None:
    """Observe one finished side: from its first claim to its stored result.

    `output` is the Output just saved as ready or failed (started_at, finished_at, contender_id).
    """

    def observe() -> None:
        started, finished = output.started_at, output.finished_at
        if started is None or finished is None:
            return
        GENERATION.labels(
            kind=_provider_kind(output.contender_id), outcome=outcome or "ok"
        ).observe(max(0.0, (finished - started).total_seconds()))

    transaction.on_commit(lambda: _safely(observe))


def refresh_timed(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate the leaderboard recompute (called with `arena=`) to time it."""

    @functools.wraps(fn)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        arena = kwargs.get("arena")
        label = str(getattr(arena, "slug", "") or "")
        started = time.perf_counter()
        outcome = "error"
        try:
            result = fn(*args, **kwargs)
            outcome = "ok"
            return result
        finally:
            elapsed = time.perf_counter() - started
            _safely(lambda: REFRESH.labels(arena=label, outcome=outcome).observe(elapsed))

    return timed


# --- Signals: votes and battles are counted without touching the services --------------------
def on_vote_saved(sender: Any, instance: Any, created: bool, **_: Any) -> None:
    if created:
        vote_recorded(arena_id=instance.battle.arena_id, counted=bool(instance.is_valid))


def on_battle_saved(sender: Any, instance: Any, created: bool, **_: Any) -> None:
    if created:
        battle_created(arena_id=instance.arena_id)


def on_instant_battle_served(sender: Any, battle: Any, **_: Any) -> None:
    arena_id = battle.arena_id
    transaction.on_commit(
        lambda: _safely(lambda: INSTANT_BATTLES.labels(arena=_arena_slug(arena_id)).inc())
    )


def on_generation_finished(sender: Any, output: Any, outcome: str, **_: Any) -> None:
    generation_finished(output=output, outcome=outcome)


# --- Exposition --------------------------------------------------------------------------------
def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class _ProcessMetrics:
    """This process's own registry (single-process mode): counters plus process/GC figures."""

    def collect(self) -> Iterator[Metric]:
        yield from PROCESS_REGISTRY.collect()


class _ScrapeTime:
    """Figures read from Redis when scraped: queue depth and live workers."""

    def collect(self) -> Iterator[Metric]:
        from arena.ops.health import queue_depths, workers_live

        depths = queue_depths()
        if depths is not None:
            depth = GaugeMetricFamily(
                "arena_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"]
            )
            for queue, count in depths.items():
                depth.add_metric([queue], count)
            yield depth
        live = workers_live()
        if live is not None:
            workers = GaugeMetricFamily(
                "arena_workers_live",
                "Celery workers with a fresh heartbeat, per queue.",
                labels=["queue"],
            )
            for queue, count in live.items():
                workers.add_metric([queue], count)
            yield workers


def metrics_render() -> bytes:
    """The text exposition of every process's metrics plus the scrape-time gauges."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_ProcessMetrics())
    registry.register(_ScrapeTime())
    return generate_latest(registry)
