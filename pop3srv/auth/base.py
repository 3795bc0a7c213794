"""The ``Authenticator`` protocol, the ``Principal`` a login yields, and authentication errors."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from pop3srv.storage.base import Location


@dataclass(frozen=True)
class Principal:
    """Who logged in and which mailbox they may read (``location``)."""

    user: str
    location: Location
    method: str = "static"
    #: the minted password this login used (JWT ``jti``, or ``app-password:<mailbox>``), if
    #: any: revoking it ends the session
    token_id: str | None = None

    @property
    def mailbox(self) -> str:
        """The maildrop lock key: one session per mailbox at a time."""
        return self.location.lock_key


@dataclass(frozen=True)
class LoginContext:
    """Where a login comes from; providers may refuse weak credentials from afar."""

    peer: str = "memory"
    loopback: bool = True
    secure: bool = False


class AuthFailed(Exception):
    """Wrong credentials: RFC 3206 ``AUTH``. The message is safe to show the client; ``reason``
    is for the operator's log only (a class such as ``unknown-user``, ``bad-password``,
    ``expired``, ``bad-signature``, ``revoked``; never the secret)."""

    #: reasons that say only "these credentials are not for this provider" (a chain prefers
    #: any other provider's reason)
    NOT_MINE = frozenset({"unknown-user", "not-a-token"})

    def __init__(
        self, message: str = "invalid user name or password", *, reason: str = "refused"
    ) -> None:
        super().__init__(message)
        self.reason = reason


class AuthUnavailable(Exception):
    """The credential check itself failed (callback outage): RFC 3206 ``SYS/TEMP``."""


class Authenticator(Protocol):
    """Checks a user name and password; returns the principal or raises ``AuthFailed``."""

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal: ...


def secrets_equal(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (texts compared as UTF-8 bytes)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )
