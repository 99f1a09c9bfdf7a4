"""The load benchmark's open loop (bench/load.py `open_loop`) measures what a voter waits.

Requests go out on a fixed schedule whatever the server does, and each latency runs from the
request's scheduled time: a server that stalls is charged for the whole stall in every
request that arrived during it (a closed loop, or a client timing from when it could send,
would hide most of that wait: coordinated omission)."""

from __future__ import annotations

import asyncio
import statistics
import time

from aiohttp import web

from bench.load import open_loop

RATE = 200.0
SECONDS = 1.0
STALL_S = 0.3


async def serve_with_one_stall() -> tuple[web.AppRunner, str, list[float]]:
    """A server that answers at once, except for one stall of STALL_S at 0.4 s: the request
    arriving then, and every request behind it on the same event loop, waits for it."""
    arrivals: list[float] = []
    first: list[float] = []

    async def answer(request: web.Request) -> web.Response:
        now = time.monotonic()
        first.append(first[0] if first else now)
        arrivals.append(now - first[0])
        if len(arrivals) == int(RATE * 0.4):
            time.sleep(STALL_S)  # blocks the whole server, as a long pause would
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/vote", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}", arrivals


def test_requests_go_out_on_schedule_and_a_stall_is_charged_to_each_waiting_request() -> None:
    async def run() -> tuple[list[float], dict[int, int], list[float]]:
        runner, base, arrivals = await serve_with_one_stall()
        try:
            latencies, codes, _ = await open_loop(
                base, RATE, SECONDS, lambda: ("POST", "/vote", {}, {})
            )
        finally:
            await runner.cleanup()
        return latencies, codes, arrivals

    latencies, codes, arrivals = asyncio.run(run())
    assert codes == {200: int(RATE * SECONDS)}
    # sent on the schedule: the requests before the stall arrived at the rate asked for
    before = arrivals[: int(RATE * 0.4)]
    assert abs((before[-1] - before[0]) / (len(before) - 1) - 1 / RATE) < 0.2 / RATE
    # the stall: about STALL_S * RATE requests were due while the server stood still, and each
    # is charged from its own scheduled time (the first of them ~STALL_S, the last ~0)
    waited = [x for x in latencies if x > 0.05]
    assert 0.6 * STALL_S * RATE <= len(waited) <= 1.4 * STALL_S * RATE, len(waited)
    assert max(latencies) >= 0.8 * STALL_S
    assert statistics.median(latencies) < 0.05  # the rest were answered at once
