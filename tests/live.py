"""A real arena in subprocesses for end-to-end tests: daphne + an optional Celery worker, or
the production layout of `make prod` (scripts/prod.sh: granian workers, Celery workers, beat)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PROD_SECRET = "live-prod-secret-key-" + "y" * 44


class LiveArena:
    """Migrates, loads the demo, serves over HTTP/WebSocket and (with Redis) runs a worker.

    `server="prod"` runs scripts/prod.sh instead (needs PostgreSQL and Redis): production
    settings (DEBUG off, hashed static files) except HTTPS, which a test cannot terminate.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str = "",
        redis_url: str = "",
        provider_options: dict[str, object] | None = None,
        extra_env: dict[str, str] | None = None,
        server: str = "daphne",
    ) -> None:
        if server not in ("daphne", "prod"):
            raise ValueError(f"unknown server {server!r}")
        if server == "prod" and not (database_url and redis_url):
            raise ValueError("the production layout needs PostgreSQL and Redis")
        self.server = server
        self.workdir = workdir
        self.database_url = database_url
        self.redis_url = redis_url
        self.provider_options = provider_options or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in {
                "DATABASE_URL",
                "REDIS_URL",
                "CELERY_BROKER_URL",
                "ARENA_TASKS_INLINE",
                "DJANGO_SETTINGS_MODULE",
            }
        }
        env.update(
            {
                "ARENA_VAR_DIR": str(workdir),
                "DEBUG": "1",
                "PYTHONUNBUFFERED": "1",
                "DJANGO_SETTINGS_MODULE": "arena.settings",
                "ARENA_MIN_VOTE_SECONDS": "0",
                "ARENA_POW_BITS": "0",
                # nothing made in advance: battles are generated live (bench/instant.py and
                # the instant battles' live test turn it on)
                "ARENA_INSTANT_BATTLES": "0",
            }
        )  # a test that wants it passes extra_env
        if server == "prod":
            env.update(
                {
                    "DEBUG": "0",
                    "SECRET_KEY": PROD_SECRET,
                    "SECURE_SSL_REDIRECT": "0",
                    "SECURE_COOKIES": "0",
                    "HOST": "127.0.0.1",
                    "PORT": str(self.port),
                    "WEB_WORKERS": "2",
                    "WORKER_CONCURRENCY": "2",
                    "REMOTE_WORKERS": "1",
                    "REMOTE_CONCURRENCY": "4",
                    "ARENA_HTTP_THREADS": "4",
                    "DB_POOL_MAX": "6",
                    "DB_POOL_MIN": "1",
                    "STOP_TIMEOUT_S": "10",
                    "VENV_BIN": str(BIN),
                }
            )
        env.update(extra_env or {})
        if database_url:
            env["DATABASE_URL"] = database_url
        if redis_url:
            env["REDIS_URL"] = redis_url
            # each live arena has its own keys: a worker never takes another arena's tasks
            env["REDIS_KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:10]}"
        self.env = env

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((name, proc))

    def start(self) -> LiveArena:
        self.manage("migrate", "--noinput", "-v0")
        self.manage("load_demo")
        if self.provider_options:
            self.manage(
                "shell",
                "-c",
                (
                    "from arena.battles.models import Provider; "
                    f"Provider.objects.update(options={self.provider_options!r})"
                ),
            )
        if self.server == "prod":
            self._spawn("prod", ["bash", str(ROOT / "scripts" / "prod.sh")])
        else:
            if self.redis_url:
                self.start_worker()
            self._spawn(
                "web",
                [
                    str(BIN / "daphne"),
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "arena.asgi:application",
                ],
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/api/arenas", timeout=10).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        logs = self.logs()
        self.stop()  # never leave processes behind, whatever the caller does next
        raise RuntimeError("web server did not start:\n" + logs)

    def start_worker(self, name: str = "worker") -> None:
        self._spawn(
            name,
            [
                str(BIN / "celery"),
                "-A",
                "arena",
                "worker",
                "-Q",
                "default,remote",
                "-c",
                "2",
                "-l",
                "INFO",
                "-n",
                f"{name}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.workdir.glob("*.log"))
        )

    def stop(self) -> list[str]:
        """Stop every process; returns those that had to be killed (a clean stop: [])."""
        killed = []
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for name, proc in self.procs:
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                killed.append(name)
            try:  # children left behind in the process group count as unclean too
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                continue
            if name not in killed:
                killed.append(f"{name} (children)")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        return killed


class Voter:
    """What a browser does, over plain HTTP and a WebSocket."""

    def __init__(self, arena: LiveArena) -> None:
        self.arena = arena
        self.http = requests.Session()
        assert self.http.get(arena.base + "/api/arenas", timeout=10).status_code == 200

    def post(self, path: str, body: dict[str, Any], **headers: str) -> requests.Response:
        headers["X-CSRFToken"] = self.http.cookies["csrftoken"]
        return self.http.post(self.arena.base + path, json=body, headers=headers, timeout=30)

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.arena.base + path, timeout=30)

    def socket(self, path: str) -> websocket.WebSocket:
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        return websocket.create_connection(
            self.arena.base.replace("http", "ws") + path,
            cookie=cookie,
            origin=self.arena.base,
            timeout=60,
        )

    def follow_until(
        self, ws: websocket.WebSocket, statuses: set[str], timeout: float = 60
    ) -> list[dict[str, Any]]:
        """Collect pushed states until one has a wanted status."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(ws.recv())
            assert message["type"] == "battle"
            seen.append(message["state"])
            if message["state"]["status"] in statuses:
                return seen
        raise AssertionError(f"no state in {statuses} after {timeout}s: {seen}")
