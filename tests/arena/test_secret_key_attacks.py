"""Attacks on the generated secret key file (var/secret_key).

A symbolic link planted there made the site use the content of whatever file it pointed at as
its SECRET_KEY (a file the attacker wrote or can read: then sessions and signed cookies can be
forged), and "made it private" by changing the mode of that other file. A FIFO there hung every
process at start. Each is now refused with a message saying what to do.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.arena.test_deploy_settings import run_with, settings_in

KNOWN = "attacker-knows-this-value-" * 3


def test_a_symlink_at_the_key_path_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    chosen = tmp_path / "attacker-chosen"
    chosen.write_text(KNOWN + "\n")
    chosen.chmod(0o644)
    var = tmp_path / "var"
    var.mkdir()
    (var / "secret_key").symlink_to(chosen)
    done = run_with(
        {"ARENA_VAR_DIR": str(var)},
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
    )
    assert KNOWN not in done.stdout
    assert done.returncode != 0 and "is a symbolic link" in done.stderr
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o644  # not chmod-ed through the link


def test_a_dangling_symlink_is_not_written_through(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    target = tmp_path / "elsewhere" / "key"
    target.parent.mkdir()
    (var / "secret_key").symlink_to(target)
    done = run_with({"ARENA_VAR_DIR": str(var)}, "check")
    assert done.returncode != 0 and "is a symbolic link" in done.stderr
    assert not target.exists()


def test_a_fifo_at_the_key_path_fails_at_once_instead_of_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "secret_key")
    done = run_with({"ARENA_VAR_DIR": str(tmp_path)}, "check")  # used to block in open()
    assert done.returncode != 0 and "not a regular file" in done.stderr


def test_a_key_file_of_another_user_that_others_can_write_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    key = tmp_path / "secret_key"
    key.write_text(KNOWN + "\n")
    os.chown(key, 65534, 65534)
    key.chmod(0o666)
    done = run_with({"ARENA_VAR_DIR": str(tmp_path)}, "check")
    assert done.returncode != 0 and "belongs to another user" in done.stderr
    key.chmod(0o640)  # another user's file that only it (and its group) can change: used
    assert settings_in({"ARENA_VAR_DIR": str(tmp_path)}, "SECRET_KEY") == {"SECRET_KEY": KNOWN}
