"""The production ASGI entry point: HTTP through Django's WSGI handler in a thread pool,
WebSockets through Channels, on one port.

Why not Django's own ASGI handler for HTTP: every view here is synchronous, and the ASGI handler
runs each request through several `sync_to_async` hops (request_started, the middleware chain,
request_finished, response close), each a round trip between the event loop and a thread.
Measured on the 2-core machine with two granian workers (wrk, a request touching no database):
Django's ASGI handler ~475/s, the same workers in WSGI mode ~3,900/s, this adapter ~3,300/s
(`GET /api/arenas`, one query: ~350/s, ~1,270/s, ~1,200/s). The adapter keeps WSGI's cost
(one hop per request: the whole request runs in one pool thread, as a WSGI server would run it)
while the event loop still serves WebSockets on the same port. uvicorn with the same adapter
did ~1,800/s; daphne, one process, ~170/s.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

CHUNK = 64 * 1024  # a streamed response is sent in pieces of about this size


class _Response:
    """What the WSGI app answered: status and headers, then body chunks pulled in a thread."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.iterator: Iterator[bytes] | None = None
        self.closer: Callable[[], None] | None = None

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        self.status = int(status.split(" ", 1)[0])
        self.headers = [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers]
        return self._write_unsupported

    @staticmethod
    def _write_unsupported(data: bytes) -> None:
        raise RuntimeError("the WSGI write() callable is not supported")

    def pull(self) -> tuple[bytes, bool]:
        """Up to CHUNK bytes of the body and whether more follow (runs in a pool thread)."""
        assert self.iterator is not None
        parts: list[bytes] = []
        size = 0
        for part in self.iterator:
            if part:
                parts.append(part)
                size += len(part)
            if size >= CHUNK:
                return b"".join(parts), True
        return b"".join(parts), False

    def close(self) -> None:
        if self.closer is not None:
            self.closer()


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf8").decode("latin1"),
        "PATH_INFO": scope["path"].encode("utf8").decode("latin1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1").upper().replace("-", "_")
        value = raw_value.decode("latin1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "CONTENT_LENGTH":
            continue  # the body was read whole: its real length is set above
        key = f"HTTP_{name}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class WsgiHttp:
    """Serve ASGI `http` scopes with a WSGI app run in a bounded thread pool."""

    def __init__(self, wsgi: WsgiApp, *, threads: int, max_body: int) -> None:
        self.wsgi = wsgi
        self.max_body = max_body
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    def _call(self, environ: dict[str, Any]) -> tuple[_Response, bytes, bool]:
        response = _Response()
        result = self.wsgi(environ, response.start_response)
        response.iterator = iter(result)
        response.closer = getattr(result, "close", None)
        try:
            first, more = response.pull()
        except BaseException:
            response.close()
            raise
        if not more:
            response.close()
        return response, first, more

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _plain(send, 413, b"Request body too large.")
                return
            if not message.get("more_body"):
                break
        loop = asyncio.get_running_loop()
        environ = _environ(scope, bytes(body))
        response, chunk, more = await loop.run_in_executor(self.executor, self._call, environ)
        streamed = more  # closed already by _call unless there is more to pull
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": response.headers,
                }
            )
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            while more:
                chunk, more = await loop.run_in_executor(self.executor, response.pull)
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
        finally:
            if streamed:  # finished, or the client went away: the app's close() runs once
                await loop.run_in_executor(self.executor, response.close)


async def _plain(send: Send, status: int, text: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": text})


def _build() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    django.setup(set_prefix=False)
    wsgi = get_wsgi_application()
    from arena.asgi import application as channels_app  # WebSockets, with the session

    http = WsgiHttp(
        wsgi, threads=settings.ARENA_HTTP_THREADS, max_body=settings.ARENA_HTTP_MAX_BODY_BYTES
    )

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        else:
            await channels_app(scope, receive, send)

    from django.urls import get_resolver

    from arena.ops.heap import startup_heap_freeze

    _ = get_resolver().url_patterns  # the URL conf, imported now: long-lived, frozen below
    startup_heap_freeze()
    return application


application = _build()
