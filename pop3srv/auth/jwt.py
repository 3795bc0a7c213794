"""JWT mailbox passwords (PyJWT): HMAC algorithms pinned by configuration (HS256 by default),
``exp``/``nbf`` honoured with a small leeway, several secrets by ``kid`` for rotation.

A token without ``kid`` is checked with ``jwt-secret`` (the original's tokens); a token with a
``kid`` only with that entry of ``jwt-secrets``. ``alg: none`` and public-key algorithms are
never accepted, whatever the header says.

A token with a ``jti`` revoked in the token registry is refused; with ``require-jti`` so is a
token whose ``jti`` is missing or not registered (``token mint --no-register``, older versions).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from pop3srv.auth.base import AuthFailed, LoginContext, Principal
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.ledger import TokenLedger

log = logging.getLogger(__name__)
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
_REFUSED = "invalid user name or password"


@dataclass(frozen=True)
class JwtAuthenticator:
    resolver: MailboxResolver
    secret: str | None = field(default=None, repr=False)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    algorithms: Sequence[str] = ("HS256",)
    leeway: float = 30.0
    ledger: TokenLedger | None = None
    require_jti: bool = False

    def __post_init__(self) -> None:
        if not set(self.algorithms) <= HMAC_ALGORITHMS or not self.algorithms:
            raise ValueError("JWT algorithms must be HMAC ones (HS256, HS384, HS512)")

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        claims = self.verify(password)
        jti = self.check_jti(claims)
        location = self.resolver.from_claims(claims)
        subject = claims.get("sub")
        name = user if user and user.lower() != "jwt" else str(subject or "jwt")
        return Principal(user=name, location=location, method="jwt", token_id=jti)

    def check_jti(self, claims: dict[str, object]) -> str | None:
        """The token's ``jti`` once the registry allows it."""
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            if self.require_jti:
                raise AuthFailed(_REFUSED, reason="unregistered-token")
            return None
        if self.ledger is not None and self.ledger.revoked(jti):
            log.info("JWT login refused: token %s was revoked", jti)
            raise AuthFailed(_REFUSED, reason="revoked")
        if self.require_jti and (self.ledger is None or not self.ledger.registered(jti)):
            log.info("JWT login refused: token %s is not registered (require-jti)", jti)
            raise AuthFailed(_REFUSED, reason="unregistered-token")
        return jti

    def verify(self, token: str) -> dict[str, object]:
        """The token's claims if its signature, algorithm and times check out."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthFailed(_REFUSED, reason="not-a-token") from exc
        kid = header.get("kid")
        key = self.secret if kid is None else self.secrets.get(str(kid))
        if key is None:
            raise AuthFailed(_REFUSED, reason="unknown-key")
        if header.get("alg") not in self.algorithms:
            raise AuthFailed(_REFUSED, reason="bad-algorithm")
        try:
            # Short secrets (the original README's example has 20 characters) must keep working;
            # check-config warns about them once instead of PyJWT on every login.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InsecureKeyLengthWarning)
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=list(self.algorithms),
                    leeway=self.leeway,
                    options={"verify_aud": False, "verify_iss": False},
                )
        except jwt.PyJWTError as exc:
            raise AuthFailed(_REFUSED, reason=_jwt_reason(exc)) from exc
        if not isinstance(claims, dict):
            raise AuthFailed(_REFUSED, reason="bad-claims")
        return claims


def _jwt_reason(exc: jwt.PyJWTError) -> str:
    """The log's reason class for a token PyJWT refused."""
    match exc:
        case jwt.ExpiredSignatureError():
            return "expired"
        case jwt.ImmatureSignatureError():
            return "not-yet-valid"
        case jwt.InvalidSignatureError():
            return "bad-signature"
        case jwt.DecodeError():
            return "not-a-token"
    return "bad-claims"
