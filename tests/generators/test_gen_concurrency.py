"""Per-provider concurrency caps: Redis semaphore shared across processes, local fallback."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable

import pytest

from generators import concurrency
from generators.base import RateLimited, get_generator
from tests.fakes import FakeProviderServer, OpenAIImagesFake, ProviderFake
from tests.fakes.testing import make_config, make_request

Serve = Callable[[ProviderFake], FakeProviderServer]


def _hold_slots(url: str, name: str, limit: int, hold_s: float, workers: int) -> list[int]:
    """Run `workers` threads that each hold a slot for `hold_s`; return the in-use samples."""
    samples: list[int] = []
    lock = threading.Lock()
    active = [0]

    def work() -> None:
        with concurrency.slot(name, limit, timeout_s=10, lease_s=30, url=url):
            with lock:
                active[0] += 1
                samples.append(concurrency.semaphore_for(name, limit, url=url).in_use())
            time.sleep(hold_s)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def _process_worker(url: str, name: str, limit: int, q: multiprocessing.Queue) -> None:
    q.put(_hold_slots(url, name, limit, 0.1, 3))


def test_redis_cap_holds_across_processes(redis_url: str, slot_name: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    q: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(redis_url, slot_name, 2, q)) for _ in range(2)
    ]
    started = time.monotonic()
    for p in procs:
        p.start()
    samples = [s for _ in procs for s in q.get(timeout=30)]
    for p in procs:
        p.join(timeout=10)
    assert len(samples) == 6
    assert max(samples) <= 2  # never more than the cap in use, across both processes
    assert time.monotonic() - started > 0.3  # 6 holds of 0.1 s through 2 slots
    sem = concurrency.semaphore_for(slot_name, 2, url=redis_url)
    assert sem.in_use() == 0


def test_redis_cap_holds_across_threads(redis_url: str, slot_name: str) -> None:
    samples = _hold_slots(redis_url, slot_name, 3, 0.05, 9)
    assert len(samples) == 9 and max(samples) <= 3


def test_redis_no_slot_raises_rate_limited(redis_url: str, slot_name: str) -> None:
    with concurrency.slot(slot_name, 1, timeout_s=1, lease_s=30, url=redis_url):
        started = time.monotonic()
        with (
            pytest.raises(RateLimited) as err,
            concurrency.slot(slot_name, 1, timeout_s=0.2, lease_s=30, url=redis_url),
        ):
            pass
        assert 0.2 <= time.monotonic() - started < 1.0
        assert err.value.retry_after is not None
    # released on exit: free again
    with concurrency.slot(slot_name, 1, timeout_s=0.1, lease_s=30, url=redis_url):
        pass


def test_redis_expired_lease_frees_the_slot(redis_url: str, slot_name: str) -> None:
    sem = concurrency.semaphore_for(slot_name, 1, url=redis_url)
    token = sem.try_acquire(lease_s=0.3)  # a worker that then dies without releasing
    assert token is not None
    assert sem.try_acquire(lease_s=0.3) is None
    time.sleep(0.35)
    assert sem.in_use() == 0
    with concurrency.slot(slot_name, 1, timeout_s=0.5, lease_s=30, url=redis_url):
        assert sem.in_use() == 1


def test_redis_refresh_extends_a_lease(redis_url: str, slot_name: str) -> None:
    sem = concurrency.semaphore_for(slot_name, 1, url=redis_url)
    assert isinstance(sem, concurrency.RedisSemaphore)
    token = sem.try_acquire(lease_s=0.2)
    assert token is not None
    assert sem.refresh(token, lease_s=5)
    time.sleep(0.3)
    assert sem.in_use() == 1
    sem.release(token)
    assert sem.in_use() == 0
    assert not sem.refresh(token, lease_s=5)


def test_redis_down_falls_back_to_local_cap(slot_name: str) -> None:
    with concurrency.slot(slot_name, 1, timeout_s=0.1, lease_s=5, url="redis://127.0.0.1:1/0"):
        local = concurrency.semaphore_for(slot_name, 1, url="")
        assert local.in_use() == 1
    assert concurrency.semaphore_for(slot_name, 1, url="").in_use() == 0


def test_local_cap_across_threads(slot_name: str) -> None:
    samples = _hold_slots("", slot_name, 2, 0.05, 6)
    assert len(samples) == 6 and max(samples) <= 2
    with (
        concurrency.slot(slot_name, 1, timeout_s=0.1, lease_s=1, url=""),
        pytest.raises(RateLimited),
        concurrency.slot(slot_name, 1, timeout_s=0.05, lease_s=1, url=""),
    ):
        pass


def test_zero_limit_is_uncapped(slot_name: str) -> None:
    with concurrency.slot(slot_name, 0, timeout_s=0, lease_s=1):
        pass


def test_generators_share_the_provider_cap(serve: Serve, redis_url: str) -> None:
    """Four outputs against a provider capped at 2: the fake never sees more than 2 at once."""
    fake = OpenAIImagesFake()
    fake.delay_s = 0.15
    in_flight = [0]
    peak = [0]
    lock = threading.Lock()
    orig = fake.handle

    def handle(req):  # type: ignore[no-untyped-def]
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.15)
        with lock:
            in_flight[0] -= 1
        return orig(req)

    fake.handle = handle  # type: ignore[method-assign]
    server = serve(fake)
    concurrency.configure(redis_url)
    cfg = make_config(
        "openai_images",
        server.base_url + "/v1",
        max_concurrency=2,
        concurrency_key=f"test-{id(fake)}",
    )
    errors: list[BaseException] = []

    def one() -> None:
        try:
            get_generator(cfg).generate(make_request(deadline_s=10))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert peak[0] == 2
