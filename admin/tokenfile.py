"""The admin bearer token: ``admin-token`` from the configuration, else one generated once into
``state-dir/admin-token`` (mode 0600; owner and mode checked, see ``pop3srv.statedir``) and
reused on every later start. The token itself is never logged; callers log where the file is."""

from __future__ import annotations

import logging
import math
import secrets
from pathlib import Path

from pop3srv.statedir import StateDirError, ensure_private_dir, read_private, write_private

log = logging.getLogger(__name__)

TOKEN_FILE = "admin-token"  # noqa: S105 - a file name
TOKEN_BYTES = 32
#: characters of a generated token (unpadded base64url of TOKEN_BYTES): a token this long from
#: the file cannot be guessed
GENERATED_TOKEN_LENGTH = math.ceil(TOKEN_BYTES * 4 / 3)


def admin_token_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_FILE


def read_admin_token(configured: str | None, state_dir: Path) -> str | None:
    """The token clients should send: the configured one, else the generated file's, else None."""
    if configured:
        return configured
    try:
        token = (read_private(admin_token_path(state_dir)) or "").strip()
    except StateDirError as exc:
        log.warning("%s", exc)
        return None
    return token or None


def ensure_admin_token(configured: str | None, state_dir: Path) -> tuple[str, Path | None]:
    """The token the admin app accepts and the file it came from (None: from configuration).
    Raises ``StateDirError`` for a state-dir or token file another user could have planted."""
    if configured:
        return configured, None
    path = admin_token_path(state_dir)
    ensure_private_dir(state_dir)
    existing = (read_private(path) or "").strip()
    if existing:
        return existing, path
    token = secrets.token_urlsafe(TOKEN_BYTES)
    write_private(path, (token + "\n").encode())
    return token, path
