"""Recent failed POP3 logins, for the admin app's security view: a bounded ring of (time,
address, user, method, reason class). Never a password; user names are clipped and kept only
in memory. The session records each refused login; ``failure_reason`` classifies it by what
the login gate's refusal was caused by."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pop3srv.auth.base import AuthFailed, AuthUnavailable

MAX_FAILURES = 500
MAX_USER = 64


@dataclass(frozen=True)
class FailedLogin:
    time: float
    address: str
    user: str
    #: how the client logged in: user (USER/PASS), plain (AUTH PLAIN) ...
    method: str
    #: bad-credentials, revoked, unregistered-token, malformed, unavailable, limited, error
    reason: str

    def public(self) -> dict[str, Any]:
        return asdict(self)


def failure_reason(refused: BaseException) -> str:
    """The reason class of a refused login (``login.LoginRefused``), from its cause: the
    provider's ``AuthFailed.reason``, ``unavailable`` (an outage), ``malformed`` (a password
    no parser could read), ``error`` (a provider bug), else ``limited`` (refused before any
    check: too many attempts in progress)."""
    cause = refused.__cause__
    match cause:
        case AuthFailed():
            return cause.reason
        case AuthUnavailable():
            return "unavailable"
        case UnicodeError():
            return "malformed"
        case None:
            return "limited"
    return "error"


class FailedLogins:
    def __init__(self, size: int = MAX_FAILURES, *, clock: Callable[[], float] = time.time) -> None:
        self._ring: deque[FailedLogin] = deque(maxlen=size)
        self._clock = clock

    def __len__(self) -> int:
        return len(self._ring)

    def record(self, address: str, user: str, method: str, reason: str) -> None:
        clipped = user if len(user) <= MAX_USER else user[: MAX_USER - 1] + "…"
        self._ring.append(FailedLogin(self._clock(), address, clipped, method, reason))

    def recent(self, limit: int = 100) -> list[FailedLogin]:
        """Newest first."""
        return list(reversed(self._ring))[:limit]
