"""Several providers tried in order (e.g. JWT, then app passwords); the first to accept wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pop3srv.auth.base import Authenticator, AuthFailed, AuthUnavailable, LoginContext, Principal


@dataclass(frozen=True)
class ChainAuthenticator:
    providers: Sequence[Authenticator]

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        outage: AuthUnavailable | None = None
        reason = "unknown-user"
        for provider in self.providers:
            try:
                return await provider.authenticate(user, password, context)
            except AuthUnavailable as exc:
                outage = exc
            except AuthFailed as exc:  # the first provider that knew the credentials says why
                if reason in AuthFailed.NOT_MINE and exc.reason not in AuthFailed.NOT_MINE:
                    reason = exc.reason
                continue
        if outage is not None:
            raise outage
        raise AuthFailed("invalid user name or password", reason=reason)
