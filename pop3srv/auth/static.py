"""Static credentials: the configured ``user``/``password`` and the ``users`` table.

The entry is found by user name; its password is compared in constant time, and an unknown user
costs the same comparison against a dummy, so neither timing nor the reply tells which part was
wrong. The original's default password ``changeit`` works only from loopback peers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pop3srv.auth.base import AuthFailed, LoginContext, Principal, secrets_equal
from pop3srv.storage.base import Location

DEFAULT_USER = "user"
DEFAULT_PASSWORD = "changeit"  # noqa: S105 - the original's documented default, refused remotely
_DUMMY = "\x00never-a-password"  # compared against when the user name is unknown
_REFUSED = "invalid user name or password"


@dataclass(frozen=True)
class StaticEntry:
    user: str
    password: str = field(repr=False)
    location: Location


@dataclass(frozen=True)
class StaticAuthenticator:
    """Accepts exactly one of its entries (the first of a name wins)."""

    entries: Sequence[StaticEntry]
    _by_user: dict[str, StaticEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_user: dict[str, StaticEntry] = {}
        for entry in self.entries:
            by_user.setdefault(entry.user, entry)
        object.__setattr__(self, "_by_user", by_user)

    @classmethod
    def single(cls, user: str, password: str, location: Location) -> StaticAuthenticator:
        return cls((StaticEntry(user, password, location),))

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        match = self._by_user.get(user)
        expected = match.password if match is not None else _DUMMY
        if not secrets_equal(password, expected) or match is None:
            reason = "unknown-user" if match is None else "bad-password"
            raise AuthFailed(_REFUSED, reason=reason)
        if match.password == DEFAULT_PASSWORD and not context.loopback:
            # the same text as a wrong password: a remote peer must not learn that the default
            # credentials are in use; the operator finds the reason in the failed-login line
            raise AuthFailed(_REFUSED, reason="default-password")
        return Principal(user=match.user, location=match.location, method="static")
