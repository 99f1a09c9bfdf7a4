"""Fail-loud helpers that read settings from the environment (healthchecks style)."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def persistent_secret(path: Path, *, min_length: int = 40) -> str:
    """The secret kept in `path`, created once if missing (mode 600, atomically).

    Several processes starting at once agree on one value: each writes a complete candidate
    to a private temporary file and hard-links it into place; the link fails for all but the
    first, and everyone then reads the winner. Never a constant in the source.
    """
    try:
        return _read_secret(path, min_length)
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(64) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    except OSError as exc:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and no key can be kept in {path.parent} ({exc}); set "
            "SECRET_KEY or make ARENA_VAR_DIR writable"
        ) from exc
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        except OSError:  # a filesystem without hard links: exclusive create, first one wins
            with contextlib.suppress(FileExistsError):
                out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(out, "w") as handle:
                    handle.write(key)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    for _ in range(40):  # the exclusive-create fallback may be read before it is written
        with contextlib.suppress(ImproperlyConfigured):
            return _read_secret(path, min_length)
        time.sleep(0.05)
    return _read_secret(path, min_length)


def _read_secret(path: Path, min_length: int) -> str:
    """The key in `path`, which must be a regular file of ours (not a link somewhere else: a
    key whose content someone else chose, or could read, is no secret)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise ImproperlyConfigured(
                f"{path} is a symbolic link; the secret key must be a plain file: remove the "
                "link (a new key is then generated) or set SECRET_KEY"
            ) from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise ImproperlyConfigured(
            f"cannot read the secret key in {path} ({exc}); set SECRET_KEY or fix the file"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImproperlyConfigured(
                f"{path} is not a regular file; remove it (a new key is "
                "then generated) or set SECRET_KEY"
            )
        if info.st_uid == os.geteuid():
            if info.st_mode & 0o077:
                os.fchmod(fd, 0o600)  # a key others can read is no secret
        elif info.st_mode & 0o006:
            raise ImproperlyConfigured(
                f"{path} belongs to another user and others can read or write it; remove it "
                "(a new key is then generated) or set SECRET_KEY"
            )
        value = handle.read().decode("utf-8", "replace").strip()
    if len(value) < min_length:
        raise ImproperlyConfigured(
            f"{path} holds no usable secret ({len(value)} characters); delete the file to "
            "have a new one generated, or set SECRET_KEY"
        )
    return value
