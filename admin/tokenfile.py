"""The admin bearer token: ``admin-token`` from the configuration, else one generated once into
``state-dir/admin-token`` (mode 0600) and reused on every later start. The token itself is never
logged; callers log where the file is."""

from __future__ import annotations

from pathlib import Path

from pop3srv.secretfile import ensure_secret

TOKEN_FILE = "admin-token"  # noqa: S105 - a file name


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
    token, _ = ensure_secret(path)
    return token, path
