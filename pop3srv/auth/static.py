"""Static credentials: one configured user name and password for one configured mailbox."""

from __future__ import annotations

from dataclasses import dataclass, field

from pop3srv.auth.base import AuthFailed, Principal, secrets_equal
from pop3srv.storage.base import Location

DEFAULT_USER = "user"
DEFAULT_PASSWORD = "changeit"  # noqa: S105 - the original's documented default, refused remotely


@dataclass(frozen=True)
class StaticAuthenticator:
    """Accepts exactly ``user``/``password`` (both compared in constant time)."""

    user: str
    password: str = field(repr=False)
    location: Location

    @property
    def uses_default_password(self) -> bool:
        return self.password == DEFAULT_PASSWORD

    async def authenticate(self, user: str, password: str) -> Principal:
        user_ok = secrets_equal(user, self.user)
        password_ok = secrets_equal(password, self.password)
        if not (user_ok and password_ok):
            raise AuthFailed("invalid user name or password")
        return Principal(user=self.user, location=self.location, method="static")
