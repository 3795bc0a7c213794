"""Short app passwords: USER is a mailbox name from the ``mailboxes`` table and PASS the
24-character MAC of that name and the mailbox's ``app-password-version`` (see ``tokens``).
Nothing is stored; bumping the version revokes every app password of the mailbox."""

from __future__ import annotations

from dataclasses import dataclass, field

from pop3srv.auth.base import AuthFailed, LoginContext, Principal, secrets_equal
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.tokens import app_password


@dataclass(frozen=True)
class AppPasswordAuthenticator:
    key: bytes = field(repr=False)
    resolver: MailboxResolver

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        entry = self.resolver.mailboxes.get(user)
        version = entry.app_password_version if entry else 1
        expected = _canonical(app_password(self.key, user, version))
        given = _canonical(password)
        if not secrets_equal(given, expected) or entry is None:
            raise AuthFailed("invalid user name or password")
        return Principal(user=user, location=self.resolver.from_entry(entry), method="app-password")


def _canonical(password: str) -> str:
    """Case, spaces and the grouping dashes do not matter (people retype these)."""
    return "".join(password.lower().split()).replace("-", "")
