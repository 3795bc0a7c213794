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
        telling: AuthFailed | None = None  # a refusal with a reason (revoked, malformed ...)
        for provider in self.providers:
            try:
                return await provider.authenticate(user, password, context)
            except AuthUnavailable as exc:
                outage = exc
            except AuthFailed as exc:
                if telling is None and exc.reason != AuthFailed.reason:
                    telling = exc
        if outage is not None:
            raise outage
        if telling is not None:
            raise telling
        raise AuthFailed("invalid user name or password")
