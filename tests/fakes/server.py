"""A real HTTP server on 127.0.0.1 that speaks one provider's protocol, scriptable per test.

`FakeProviderServer(SomeFake())` runs a stdlib ThreadingHTTPServer in a daemon thread on an
ephemeral port. The fake object decides the replies; every request is recorded so tests can
assert auth headers, bodies (mapped parameters) and paths.
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
import io
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

MP4_PATH = Path(__file__).with_name("tiny.mp4")


@functools.lru_cache(maxsize=64)
def png_bytes(
    width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 40, 40)
) -> bytes:
    """A real PNG of the given size (solid colour, so it stays tiny)."""
    from PIL import Image

    width, height = max(1, min(width, 4096)), max(1, min(height, 4096))
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def edited_png(source: bytes) -> bytes | None:
    """What the fakes' edit endpoints answer: the source image, decoded and inverted (so a
    test can see the image arrived and was used); None when `source` is not an image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(source)) as img:
            inverted = ImageOps.invert(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    buf = io.BytesIO()
    inverted.save(buf, "PNG")
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def mp4_bytes() -> bytes:
    """A real 1 s 64×64 H.264 MP4 (made once with ffmpeg's testsrc, see tests/fakes/README)."""
    return MP4_PATH.read_bytes()


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    route: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """Fields of a multipart/form-data or urlencoded body (files as their text)."""
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}
        if not ctype.startswith("multipart/form-data"):
            return {}
        raw = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode() + self.body
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        fields: dict[str, str] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True) or b""
                fields[str(name)] = payload.decode("utf-8", "replace")
        return fields

    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in self.query.items()}

    def files(self) -> dict[str, bytes]:
        """The raw bytes of every part of a multipart/form-data body, by field name."""
        ctype = self.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return {}
        raw = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode() + self.body
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        parts: dict[str, bytes] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                parts[str(name)] = part.get_payload(decode=True) or b""
        return parts


@dataclass
class Reply:
    """What the fake answers: status, body (bytes/str/JSON-able), headers, optional delay."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = bytes(body)
            if data:
                headers.setdefault("Content-Type", "application/octet-stream")
        return data, headers


class ProviderFake:
    """Base of every provider fake: auth check, recording, scripted failures, result files.

    Knobs tests set (all optional):
      api_key        key the fake accepts (None: any); a wrong one gets a 401
      fail_next(...) queue error replies for the next requests of one route ("submit", "poll",
                     "result", "file")
      delay_s        sleep before answering submit calls (slow provider / timeout tests)
      pending        how many polls answer "still running" before the job is done
      outcome        provider-specific: "ok", "moderation", "error", ... (see each fake)
      expired        result files answer `expired_status` instead of their bytes
      redirects      path -> Location: GETs of that path answer 302 (redirect tests)
    """

    name = "fake"
    auth_header = "Authorization"
    auth_prefix = "Bearer "

    def __init__(self, *, api_key: str | None = "test-key") -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.failures: dict[str, list[Reply]] = {}
        self.delay_s = 0.0
        self.pending = 0
        self.outcome = "ok"
        self.expired = False
        self.expired_status = 403
        self.file_content_type: str | None = None  # override the served type of result files
        self.files: dict[str, tuple[bytes, str]] = {}
        self.redirects: dict[str, str] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.base_url = ""
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ scripting
    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        route: str = "submit",
        retry_after: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` requests of `route` with an error in this provider's format."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        reply = self.error_reply(status, message or f"scripted HTTP {status}")
        reply.headers.update(headers)
        self.failures.setdefault(route, []).extend([reply] * times)

    def error_reply(self, status: int, message: str) -> Reply:
        """An error body in the provider's own format (overridden per provider)."""
        return Reply(status, {"error": {"message": message, "code": status}})

    def add_file(self, data: bytes, content_type: str, suffix: str = "") -> str:
        """Serve `data` under /files/… and return its absolute URL."""
        name = uuid.uuid4().hex + suffix
        self.files[name] = (data, content_type)
        return f"{self.base_url}/files/{name}"

    def new_job(self, prefix: str = "", **fields: Any) -> tuple[str, dict[str, Any]]:
        job_id = prefix + uuid.uuid4().hex[:16]
        job = {"polls": 0, **fields}
        self.jobs[job_id] = job
        return job_id, job

    def tick(self, job: dict[str, Any]) -> bool:
        """Count one poll of `job`; True once it has been polled more than `pending` times."""
        job["polls"] += 1
        return job["polls"] > self.pending

    # ------------------------------------------------------------------ dispatch
    def route_of(self, req: Recorded) -> str:
        """Which scripted route a request belongs to (submit/poll/result/file/other)."""
        return "submit" if req.method == "POST" else "poll"

    def authorized(self, req: Recorded) -> bool:
        if self.api_key is None:
            return True
        return req.header(self.auth_header) == f"{self.auth_prefix}{self.api_key}"

    def unauthorized(self) -> Reply:
        return self.error_reply(401, "Incorrect API key provided")

    def dispatch(self, req: Recorded) -> Reply:
        if req.path.startswith("/files/"):
            req.route = "file"
        else:
            req.route = self.route_of(req)
        with self.lock:
            self.requests.append(req)
            queued = self.failures.get(req.route)
            scripted = queued.pop(0) if queued else None
        if scripted is not None:
            return scripted
        if req.path in self.redirects:
            return Reply(302, b"", {"Location": self.redirects[req.path]})
        if req.route == "file":
            return self.serve_file(req)
        if not self.authorized(req):
            return self.unauthorized()
        reply = self.handle(req)
        if req.route == "submit" and self.delay_s:
            reply.delay_s = max(reply.delay_s, self.delay_s)
        return reply

    def serve_file(self, req: Recorded) -> Reply:
        if self.expired:
            return Reply(
                self.expired_status,
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                {"Content-Type": "application/xml"},
            )
        entry = self.files.get(req.path.removeprefix("/files/"))
        if entry is None:
            return Reply(404, "not found")
        data, ctype = entry
        return Reply(200, data, {"Content-Type": self.file_content_type or ctype})

    def handle(self, req: Recorded) -> Reply:
        raise NotImplementedError

    # ------------------------------------------------------------------ assertions
    def of_route(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    @property
    def last_submit(self) -> Recorded:
        return self.of_route("submit")[-1]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        req = Recorded(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            reply = self.server.fake.dispatch(req)
        except Exception as exc:  # a bug in a fake should show up as a 599, not hang the test
            reply = Reply(599, f"fake error: {exc!r}")
        if reply.delay_s:
            time.sleep(reply.delay_s)
        data, headers = reply.encoded()
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: ProviderFake


class FakeProviderServer:
    """Runs a `ProviderFake` on 127.0.0.1:<port> in a background thread."""

    def __init__(self, fake: ProviderFake, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = fake
        self.host, self.port = self._httpd.server_address[:2]
        self.base_url = f"http://{self.host}:{self.port}"
        fake.base_url = self.base_url
        self._thread: threading.Thread | None = None

    def start(self) -> FakeProviderServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.fake.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Block serving (for `python -m tests.fakes`)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def requests(self) -> list[Recorded]:
        return self.fake.requests


def start_fake(
    fake: ProviderFake | Callable[[], ProviderFake], *, port: int = 0
) -> FakeProviderServer:
    """Start a fake in a thread and return the running server (call `.stop()` when done)."""
    instance = fake() if callable(fake) and not isinstance(fake, ProviderFake) else fake
    assert isinstance(instance, ProviderFake)
    return FakeProviderServer(instance, port=port).start()
