"""Short app passwords: USER is a mailbox name from the ``mailboxes`` table and PASS the
24-character MAC of that name and the mailbox's ``app-password-version`` (see ``tokens``).
Nothing is stored; bumping the version (in the configuration, or from the admin app through
the token registry, which can only raise it) revokes every app password of the mailbox."""

from __future__ import annotations

from dataclasses import dataclass, field

from pop3srv.auth.base import AuthFailed, LoginContext, Principal, secrets_equal
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.ledger import TokenLedger
from pop3srv.auth.tokens import app_password
from pop3srv.config import MailboxEntry

#: how many earlier versions a refused password is compared with to log it as revoked
REVOKED_LOOKBACK = 16


@dataclass(frozen=True)
class AppPasswordAuthenticator:
    key: bytes = field(repr=False)
    resolver: MailboxResolver
    ledger: TokenLedger | None = None

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        entry = self.resolver.mailboxes.get(user)
        version = current_version(entry, self.ledger) if entry else 1
        expected = _canonical(app_password(self.key, user, version))
        given = _canonical(password)
        if not secrets_equal(given, expected) or entry is None:
            raise AuthFailed(reason=self._reason(user, given, version, known=entry is not None))
        location = self.resolver.from_entry(entry)
        return Principal(
            user=user, location=location, method="app-password", token_id=app_password_id(user)
        )

    def _reason(self, user: str, given: str, version: int, *, known: bool) -> str:
        """For the log: was it an app password of an earlier (revoked) version? Always
        ``REVOKED_LOOKBACK`` MACs, whatever the name and version, so the time a refusal takes
        does not tell a mailbox name (or its version) from an unknown one."""
        revoked = False
        for old in range(version - REVOKED_LOOKBACK, version):
            expected = _canonical(app_password(self.key, user, max(old, 0)))
            revoked |= secrets_equal(given, expected) and old >= 1
        if not known:
            return "unknown-user"
        return "revoked" if revoked else "bad-password"


def _canonical(password: str) -> str:
    """Case, spaces and the grouping dashes do not matter (people retype these)."""
    return "".join(password.lower().split()).replace("-", "")


def current_version(entry: MailboxEntry, ledger: TokenLedger | None) -> int:
    """The version ``entry``'s app passwords are at: the configured one, or the token
    registry's bump when that is higher."""
    configured = entry.app_password_version
    return configured if ledger is None else ledger.app_password_version(entry.name, configured)


def app_password_id(mailbox: str) -> str:
    """The ``Principal.token_id`` of app-password logins to ``mailbox``."""
    return f"app-password:{mailbox}"
