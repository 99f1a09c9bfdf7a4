"""Production settings pass Django's deployment checks; secure cookies and headers are on."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_check_deploy_passes_for_production_settings(tmp_path: Path) -> None:
    done = run_with({"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(60),
                     "ALLOWED_HOSTS": "arena.example.org", "ARENA_VAR_DIR": str(tmp_path)},
                    "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    done = run_with({"DEBUG": "0", "ARENA_VAR_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "SECRET_KEY must be set" in done.stderr


def test_a_malformed_setting_fails_loudly(tmp_path: Path) -> None:
    done = run_with({"ARENA_MIN_VOTE_SECONDS": "soon", "ARENA_VAR_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "ARENA_MIN_VOTE_SECONDS must be a number" in done.stderr
