"""Secrets the server generates once into ``state-dir`` and reuses on every later start (the
admin token, the JWT signing secret): created with ``O_EXCL`` and mode 0600, so two processes
starting at once agree on one value and nobody else can read it. Values are never logged."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

SECRET_BYTES = 32


def read_secret(path: Path) -> str | None:
    """The secret in ``path`` (restricted to 0600 if it was readable by others), or None."""
    try:
        mode = path.stat().st_mode
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if stat.S_IMODE(mode) & 0o077:
        log.warning("%s was readable by others; restricting it to mode 0600", path)
        path.chmod(0o600)
    return value or None


def ensure_secret(path: Path) -> tuple[str, bool]:
    """The secret in ``path``, generating it first if there is none; (value, created)."""
    existing = read_secret(path)
    if existing:
        return existing, False
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(SECRET_BYTES)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # an empty leftover
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its secret
        existing = read_secret(path)
        if existing:
            return existing, False
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(value + "\n")
    return value, True
