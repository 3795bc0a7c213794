"""Static credentials: the configured ``user``/``password`` and the ``users`` table.

Every entry is compared in constant time (user and password both), so neither timing nor the
reply tells which part was wrong. The original's default password ``changeit`` works only from
loopback peers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pop3srv.auth.base import AuthFailed, LoginContext, Principal, secrets_equal
from pop3srv.storage.base import Location

DEFAULT_USER = "user"
DEFAULT_PASSWORD = "changeit"  # noqa: S105 - the original's documented default, refused remotely


@dataclass(frozen=True)
class StaticEntry:
    user: str
    password: str = field(repr=False)
    location: Location


@dataclass(frozen=True)
class StaticAuthenticator:
    """Accepts exactly one of its entries."""

    entries: Sequence[StaticEntry]

    @classmethod
    def single(cls, user: str, password: str, location: Location) -> StaticAuthenticator:
        return cls((StaticEntry(user, password, location),))

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        match = None
        for entry in self.entries:  # no early exit: the same work for every entry
            if secrets_equal(user, entry.user) & secrets_equal(password, entry.password):
                match = entry
        if match is None:
            raise AuthFailed("invalid user name or password")
        if match.password == DEFAULT_PASSWORD and not context.loopback:
            raise AuthFailed("the default password is accepted from this host only")
        return Principal(user=match.user, location=match.location, method="static")
