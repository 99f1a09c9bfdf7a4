"""The production entry point's HTTP adapter (arena.ops.asgi.WsgiHttp): a request reaches the
WSGI app as a WSGI server would pass it, and long responses are streamed in pieces."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

from arena.ops.asgi import CHUNK, WsgiHttp


def run(
    app: WsgiHttp, scope: dict[str, Any], body: bytes = b"", pieces: int = 1
) -> list[dict[str, Any]]:
    size = max(1, len(body) // pieces) if body else 1
    chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def scope(
    method: str = "GET",
    path: str = "/",
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("10.1.2.3", 5555),
        "headers": headers or [],
    }


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "text/plain"), ("X-A", "1"), ("X-A", "2")])
    seen = "|".join(
        str(environ.get(k))
        for k in (
            "REQUEST_METHOD",
            "PATH_INFO",
            "QUERY_STRING",
            "REMOTE_ADDR",
            "CONTENT_TYPE",
            "CONTENT_LENGTH",
            "HTTP_COOKIE",
            "HTTP_X_FORWARDED_FOR",
        )
    )
    return [seen.encode(), b"|", body]


def test_a_request_reaches_the_wsgi_app_as_a_wsgi_server_passes_it() -> None:
    app = WsgiHttp(echo, threads=2, max_body=1000)
    sent = run(
        app,
        scope(
            "POST",
            "/api/x",
            b"a=1",
            [
                (b"content-type", b"application/json"),
                (b"content-length", b"999"),
                (b"cookie", b"a=1"),
                (b"x-forwarded-for", b"1.1.1.1"),
                (b"x-forwarded-for", b"2.2.2.2"),
            ],
        ),
        b'{"choice": "left"}',
        pieces=3,
    )
    assert sent[0]["status"] == 201
    assert (b"x-a", b"1") in sent[0]["headers"] and (b"x-a", b"2") in sent[0]["headers"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert body == (
        b'POST|/api/x|a=1|10.1.2.3|application/json|18|a=1|1.1.1.1,2.2.2.2|{"choice": "left"}'
    )
    assert sent[-1]["more_body"] is False


def test_a_long_response_is_streamed_in_pieces_and_closed() -> None:
    closed = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            for _ in range(40):
                yield b"x" * 4096

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Body:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Body()

    sent = run(WsgiHttp(app, threads=2, max_body=10), scope())
    pieces = [m for m in sent if m["type"] == "http.response.body"]
    assert len(pieces) >= 2 and all(len(p["body"]) <= CHUNK + 4096 for p in pieces)
    assert b"".join(p["body"] for p in pieces) == b"x" * 4096 * 40
    assert pieces[-1]["more_body"] is False and closed == [True]


def test_a_body_over_the_limit_is_refused_with_413() -> None:
    called = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        called.append(True)
        return []

    sent = run(WsgiHttp(app, threads=1, max_body=10), scope("POST"), b"y" * 50, pieces=5)
    assert sent[0]["status"] == 413 and not called
