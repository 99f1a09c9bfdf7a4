"""Safe defaults: DEBUG off, a generated secret key kept private, HTTPS settings wherever the
site is reachable by name, Django's deployment checks clean, and `make run` still serving."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
# Everything the machine's environment might set that would change what these tests look at.
STRIPPED = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "ARENA_HTTPS",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "ARENA_VAR_DIR",
    "CSRF_TRUSTED_ORIGINS",
}
# The production environment the README gives (plus a real secret), checked as written.
PRODUCTION_ENV = {
    "ALLOWED_HOSTS": "arena.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://arena.example.org",
}


def clean_env(env: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in STRIPPED}, **env}


def run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def python_in(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -c code` in a fresh process with the machine's environment cleaned, plus `env`."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        timeout=60,
        text=True,
        capture_output=True,
        env=clean_env({"DJANGO_SETTINGS_MODULE": "arena.settings", **env}),
    )


def settings_in(env: dict[str, str], *names: str) -> dict[str, object]:
    """The named settings as a fresh process started with `env` sees them."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}))"
    )
    done = python_in(code, env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_check_deploy_passes_for_the_readme_production_environment(tmp_path: Path) -> None:
    done = run_with(
        {**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(60), "ARENA_VAR_DIR": str(tmp_path)},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_deploy_passes_with_the_generated_key_too(tmp_path: Path) -> None:
    done = run_with(
        {**PRODUCTION_ENV, "ARENA_VAR_DIR": str(tmp_path)},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_debug_is_off_unless_asked_for(tmp_path: Path) -> None:
    assert settings_in({"ARENA_VAR_DIR": str(tmp_path)}, "DEBUG") == {"DEBUG": False}
    assert settings_in({"ARENA_VAR_DIR": str(tmp_path), "DEBUG": "1"}, "DEBUG") == {"DEBUG": True}


def test_a_404_with_the_defaults_shows_no_debug_page(tmp_path: Path) -> None:
    code = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/no-such-page/?q=1'); "
        "print(r.status_code); print(r.content.decode()[:20000])"
    )
    done = python_in(code, {"ARENA_VAR_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    status, _, body = done.stdout.partition("\n")
    assert status == "404"
    assert "DEBUG = True" not in body and "URLconf" not in body and "arena.urls" not in body


def test_without_secret_key_a_random_key_is_kept_private_in_the_var_folder(tmp_path: Path) -> None:
    first = settings_in({"ARENA_VAR_DIR": str(tmp_path / "a")}, "SECRET_KEY")["SECRET_KEY"]
    again = settings_in({"ARENA_VAR_DIR": str(tmp_path / "a")}, "SECRET_KEY")["SECRET_KEY"]
    other = settings_in({"ARENA_VAR_DIR": str(tmp_path / "b")}, "SECRET_KEY")["SECRET_KEY"]
    assert isinstance(first, str) and len(first) >= 50
    assert first == again != other
    key_file = tmp_path / "a" / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first not in (ROOT / "arena" / "settings.py").read_text()
    assert not list((tmp_path / "a").glob(".secret_key.*"))  # no temporary files left
    given = settings_in(
        {"ARENA_VAR_DIR": str(tmp_path / "c"), "SECRET_KEY": "k" * 60}, "SECRET_KEY"
    )
    assert given == {"SECRET_KEY": "k" * 60} and not (tmp_path / "c" / "secret_key").exists()


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'arena.settings'; "
        "from django.conf import settings; print(settings.SECRET_KEY)"
    )
    env = clean_env({"ARENA_VAR_DIR": str(tmp_path)})
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert keys == {(tmp_path / "secret_key").read_text().strip()}


def test_a_readable_key_file_is_made_private_and_a_blank_one_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("x" * 64 + "\n")
    key_file.chmod(0o644)
    assert settings_in({"ARENA_VAR_DIR": str(tmp_path)}, "SECRET_KEY") == {"SECRET_KEY": "x" * 64}
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_file.write_text("\n")
    done = run_with({"ARENA_VAR_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "holds no usable secret" in done.stderr


def test_https_settings_are_on_wherever_the_site_answers_to_a_public_name(tmp_path: Path) -> None:
    names = (
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    )
    var = {"ARENA_VAR_DIR": str(tmp_path)}
    local = settings_in(var, *names)
    assert local == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
    }
    public = settings_in({**var, **PRODUCTION_ENV}, *names)
    assert public["SECURE_SSL_REDIRECT"] is True and public["SESSION_COOKIE_SECURE"] is True
    assert public["CSRF_COOKIE_SECURE"] is True and int(public["SECURE_HSTS_SECONDS"]) > 0
    lan = settings_in({**var, "ALLOWED_HOSTS": "192.168.1.20", "ARENA_HTTPS": "0"}, *names)
    assert lan["SECURE_SSL_REDIRECT"] is False and lan["SESSION_COOKIE_SECURE"] is False


def test_a_malformed_setting_fails_loudly(tmp_path: Path) -> None:
    done = run_with({"ARENA_MIN_VOTE_SECONDS": "soon", "ARENA_VAR_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "ARENA_MIN_VOTE_SECONDS must be a number" in done.stderr
    done = run_with({"ARENA_HTTPS": "maybe", "ARENA_VAR_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "ARENA_HTTPS must be a boolean" in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_run_serves_plain_http_static_files_and_no_debug_page(tmp_path: Path) -> None:
    """What `make run` does, with nothing configured: DEBUG off, yet the site works."""
    env = clean_env({"ARENA_VAR_DIR": str(tmp_path)})
    for args in (
        ["migrate", "--noinput", "-v0"],
        ["load_demo"],
        ["collectstatic", "--noinput", "-v0"],
    ):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    port = _free_port()
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        home = None
        while time.monotonic() < deadline:
            try:
                home = requests.get(base + "/", timeout=5, allow_redirects=False)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert home is not None, (tmp_path / "run.log").read_text()
        assert home.status_code == 200, home.text[:500]
        assert "Strict-Transport-Security" not in home.headers
        css = requests.get(base + "/static/arena/arena.css", timeout=5)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
        missing = requests.get(base + "/no-such-page/", timeout=5)
        assert missing.status_code == 404 and "DEBUG" not in missing.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
