"""Recent failed POP3 logins, for the admin app's security view: a bounded ring of (time,
address, user, method, reason class). Never a password; user names are clipped and kept only
in memory. The session records each refused login with the refusal's reason class (the one
the failure log writes: ``unknown-user``, ``bad-password``, ``expired``, ``revoked`` ...)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

MAX_FAILURES = 500
MAX_USER = 64


@dataclass(frozen=True)
class FailedLogin:
    time: float
    address: str
    user: str
    #: how the client logged in: user (USER/PASS), plain (AUTH PLAIN) ...
    method: str
    #: the failure log's reason class (``login.LoginRefused.reason``)
    reason: str

    def public(self) -> dict[str, Any]:
        return asdict(self)


class FailedLogins:
    def __init__(self, size: int = MAX_FAILURES, *, clock: Callable[[], float] = time.time) -> None:
        self._ring: deque[FailedLogin] = deque(maxlen=size)
        self._clock = clock

    def record(self, address: str, user: str, method: str, reason: str) -> None:
        clipped = user if len(user) <= MAX_USER else user[: MAX_USER - 1] + "…"
        self._ring.append(FailedLogin(self._clock(), address, clipped, method, reason))

    def recent(self, limit: int = 100) -> list[FailedLogin]:
        """Newest first."""
        return list(reversed(self._ring))[:limit]
