"""Minting mailbox passwords: signed JWTs (admin API, ``pop3srv token mint``) and short app
passwords for clients that cap password length (Gmail's POP fetcher)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from pop3srv.auth.claims import TEXT_CLAIMS

APP_PASSWORD_LENGTH = 24  # base32 characters, shown in groups of four: 29 characters


@dataclass(frozen=True)
class MintedToken:
    token: str
    expires_at: int | None  # Unix time, None = never
    issued_at: int = 0


def mint_jwt(
    claims: Mapping[str, str],
    *,
    secret: str,
    ttl: int | None,
    kid: str | None = None,
    algorithm: str = "HS256",
    now: float | None = None,
    jti: str | None = None,
) -> MintedToken:
    """A signed mailbox JWT with the given claims (only the known mailbox claims are allowed);
    ``jti`` names it in the token registry."""
    unknown = set(claims) - set(TEXT_CLAIMS)
    if unknown:
        raise ValueError(f"unknown claims: {', '.join(sorted(unknown))}")
    issued = int(time.time() if now is None else now)
    payload: dict[str, object] = {**claims, "iat": issued}
    if jti is not None:
        payload["jti"] = jti
    expires_at = None
    if ttl is not None:
        expires_at = issued + ttl
        payload["exp"] = expires_at
    headers = {"kid": kid} if kid else None
    token = jwt.encode(payload, secret, algorithm=algorithm, headers=headers)
    return MintedToken(token=token, expires_at=expires_at, issued_at=issued)


def app_password_key(app_password_secret: str | None, jwt_secret: str | None) -> bytes | None:
    """The MAC key of app passwords: ``app-password-secret``, else one derived from
    ``jwt-secret`` (so the original's single secret is enough), else None (disabled)."""
    if app_password_secret:
        return app_password_secret.encode()
    if jwt_secret:
        return hmac.new(jwt_secret.encode(), b"pop3srv app passwords", hashlib.sha256).digest()
    return None


def app_password(key: bytes, mailbox: str, version: int) -> str:
    """The short password of ``mailbox`` at ``version`` (revoked by bumping the version)."""
    message = f"pop3srv-app-password\0{mailbox}\0{version}".encode()
    mac = hmac.new(key, message, hashlib.sha256).digest()
    text = base64.b32encode(mac).decode().lower()[:APP_PASSWORD_LENGTH]
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))
