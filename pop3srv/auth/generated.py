"""A JWT signing secret generated into ``state-dir/jwt-secret`` when none is configured, so a
server started with no configuration (``make run``) can mint mailbox passwords in its admin app.

It applies only while ``auth-providers`` is left at its default: the default chain (static
user/password, HTTP callback) stays first and ``jwt`` (and app passwords, for a ``mailboxes``
table) is appended, so nothing that logged in before stops working. The file is mode 0600,
created once and reused on every later start, with the owner and mode checks of every secret
in ``state-dir`` (``pop3srv.statedir``); its value is never logged.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from pathlib import Path

from pop3srv.config import Settings
from pop3srv.statedir import StateDirError, ensure_private_dir, read_private, write_private

log = logging.getLogger(__name__)

JWT_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name
SECRET_BYTES = 32


def jwt_secret_path(state_dir: Path) -> Path:
    return state_dir / JWT_SECRET_FILE


def wants_generated_secret(settings: Settings) -> bool:
    """No JWT secret configured and the provider chain left at its default."""
    auth = settings.auth
    if auth.jwt_secret or auth.jwt_secrets:
        return False
    return settings.sources.get("auth-providers", "default") == "default"


def with_jwt_secret(settings: Settings, secret: str) -> Settings:
    """``settings`` signing and checking JWTs with ``secret`` (providers extended as above)."""
    auth = settings.auth
    providers = list(auth.providers)
    if "jwt" not in providers:
        providers.append("jwt")
    if auth.mailboxes and "app-password" not in providers:
        providers.append("app-password")
    return replace(settings, auth=replace(auth, jwt_secret=secret, providers=tuple(providers)))


def ensure_generated_jwt_secret(settings: Settings) -> tuple[Settings, Path | None]:
    """The settings to serve with, and the generated secret's file (None: not generated)."""
    if not wants_generated_secret(settings):
        return settings, None
    path = jwt_secret_path(ensure_private_dir(settings.store.state_dir))
    secret = (read_private(path) or "").strip()
    if not secret:
        secret = secrets.token_urlsafe(SECRET_BYTES)
        write_private(path, (secret + "\n").encode())
    return with_jwt_secret(settings, secret), path


def keep_generated_secret(settings: Settings, secret: str) -> Settings:
    """Reloaded ``settings`` with the secret generated at start-up, while they still configure
    none (so a reload neither drops JWT logins nor reports them as changed)."""
    return with_jwt_secret(settings, secret) if wants_generated_secret(settings) else settings


def existing_generated_jwt_secret(settings: Settings) -> Settings:
    """For offline tools (``pop3srv token mint``): the secret a server generated, if any."""
    if not wants_generated_secret(settings):
        return settings
    try:
        secret = (read_private(jwt_secret_path(settings.store.state_dir)) or "").strip()
    except StateDirError as exc:
        log.warning("%s", exc)
        return settings
    return with_jwt_secret(settings, secret) if secret else settings
