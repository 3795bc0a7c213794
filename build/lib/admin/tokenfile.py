"""The admin bearer token: ``admin-token`` from the configuration, else one generated once into
``state-dir/admin-token`` (mode 0600) and reused on every later start. The token itself is never
logged; callers log where the file is."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

TOKEN_FILE = "admin-token"  # noqa: S105 - a file name
TOKEN_BYTES = 32


def admin_token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILE


def read_admin_token(configured: str | None, state_dir: Path) -> str | None:
    """The token clients should send: the configured one, else the generated file's, else None."""
    if configured:
        return configured
    try:
        token = admin_token_path(state_dir).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return token or None


def ensure_admin_token(configured: str | None, state_dir: Path) -> tuple[str, Path | None]:
    """The token the admin app accepts and the file it came from (None: from configuration)."""
    if configured:
        return configured, None
    path = admin_token_path(state_dir)
    existing = _read_private(path)
    if existing:
        return existing, path
    state_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # an empty leftover
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its token
        existing = _read_private(path)
        if existing:
            return existing, path
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token, path


def _read_private(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if stat.S_IMODE(mode) & 0o077:
        log.warning("%s was readable by others; restricting it to mode 0600", path)
        path.chmod(0o600)
    return token or None
