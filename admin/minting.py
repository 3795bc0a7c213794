"""Minting mailbox passwords from the server's settings: signed JWTs and short app passwords.

Shared by ``POST /api/tokens``, ``POST /api/app-passwords`` and ``pop3srv token mint`` so that
the web app and the command line accept the same fields, refuse the same mistakes with the same
messages, and sign the same claims. Nothing here touches the network or Quart.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from jwt.warnings import InsecureKeyLengthWarning

from pop3srv.auth.claims import BUCKET_CLAIMS, TEXT_CLAIMS
from pop3srv.auth.ledger import TokenRecord
from pop3srv.auth.tokens import MintedToken, app_password, app_password_key, mint_jwt
from pop3srv.config import MailboxEntry, Settings

DAY = 24 * 3600
DEFAULT_TTL = 90 * DAY
MAX_TTL = 10 * 365 * DAY
MAX_TEXT = 1024
PROVIDERS = ("s3", "none", "demo")
TTL_FIELD = "ttl"
LABEL_FIELD = "label"
JTI_BYTES = 16
MAX_LABEL = 120


class FieldError(ValueError):
    """A request field is missing or wrong; ``field`` names it for the 400 answer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MintingUnavailable(Exception):
    """The configuration cannot mint this kind of password (no secret, provider off)."""


class UnknownMailbox(LookupError):
    """No entry of that name in the ``mailboxes`` table."""


@dataclass(frozen=True)
class MintRequest:
    """Validated claims and lifetime (``ttl`` None: the token never expires)."""

    claims: Mapping[str, str]
    ttl: int | None


@dataclass(frozen=True)
class TokenMinter:
    """Signs mailbox passwords the way the server's authenticators check them."""

    mailboxes: Mapping[str, MailboxEntry]
    secret: str | None = field(default=None, repr=False)
    kid: str | None = None
    algorithm: str = "HS256"
    jwt_enabled: bool = False
    app_key: bytes | None = field(default=None, repr=False)
    app_passwords_enabled: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenMinter:
        """Sign with ``jwt-secret``; without it, with the last entry of ``jwt-secrets`` (its
        key id goes into the header, as the JWT authenticator expects)."""
        auth = settings.auth
        secret, kid = auth.jwt_secret, None
        if not secret and auth.jwt_secrets:
            kid, secret = list(auth.jwt_secrets.items())[-1]
        return cls(
            mailboxes=auth.mailboxes,
            secret=secret,
            kid=kid,
            algorithm=auth.jwt_algorithms[0] if auth.jwt_algorithms else "HS256",
            jwt_enabled="jwt" in auth.providers,
            app_key=app_password_key(auth.app_password_secret, auth.jwt_secret),
            app_passwords_enabled="app-password" in auth.providers,
        )

    @property
    def jwt_problem(self) -> str | None:
        """Why JWTs cannot be minted, or None."""
        if not self.secret:
            return (
                "no jwt-secret configured: set jwt-secret (POP3_JWT_SECRET) to mint "
                "mailbox passwords"
            )
        if not self.jwt_enabled:
            return "JWT logins are off: auth-providers does not list jwt"
        return None

    @property
    def app_password_problem(self) -> str | None:
        """Why app passwords cannot be minted, or None."""
        if self.app_key is None:
            return "no app-password-secret or jwt-secret configured"
        if not self.app_passwords_enabled:
            return "app passwords are off: they need a mailboxes table (and auth-providers)"
        return None

    def describe(self, request: MintRequest) -> str:
        """The mailbox ``request`` opens (see ``describe_claims``)."""
        return describe_claims(request.claims)

    def parse(self, body: object) -> MintRequest:
        """Validate a request body (JSON object or the CLI's options); ``FieldError`` names
        the first bad field."""
        return parse_mint_request(body, self.mailboxes)

    def mint(
        self, request: MintRequest, *, now: float | None = None, jti: str | None = None
    ) -> MintedToken:
        problem = self.jwt_problem
        if problem is not None:
            raise MintingUnavailable(problem)
        assert self.secret is not None
        # Short secrets (the original README's example) keep working; check-config warns once.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return mint_jwt(
                request.claims,
                secret=self.secret,
                ttl=request.ttl,
                kid=self.kid,
                algorithm=self.algorithm,
                now=now,
                jti=jti,
            )

    def app_password(self, mailbox: str, version: int | None = None) -> str:
        """The short password of a ``mailboxes`` entry (USER is the mailbox name) at
        ``version`` (default: the configured one)."""
        problem = self.app_password_problem
        if problem is not None:
            raise MintingUnavailable(problem)
        entry = self.mailboxes.get(mailbox)
        if entry is None:
            raise UnknownMailbox(mailbox)
        assert self.app_key is not None
        return app_password(self.app_key, mailbox, version or entry.app_password_version)


def new_jti() -> str:
    """A fresh ``jti``: the name of a minted JWT in the token registry."""
    return secrets.token_urlsafe(JTI_BYTES)


def token_record(
    request: MintRequest, minted: MintedToken, jti: str, label: str, minted_by: str
) -> TokenRecord:
    """The token registry's record of ``minted`` (never the token itself)."""
    mailbox = describe_claims(request.claims)
    return TokenRecord(jti, mailbox, label, minted.issued_at, minted.expires_at, minted_by)


def describe_claims(claims: Mapping[str, str]) -> str:
    """The mailbox a token opens, for the registry: a name, ``s3://bucket/prefix``, or the
    provider (demo, none)."""
    if "mailbox" in claims:
        return claims["mailbox"]
    if claims.get("bucket"):
        return f"s3://{claims['bucket']}/{claims.get('prefix', '')}"
    return claims.get("provider", "s3")


def parse_label(body: object) -> tuple[object, str]:
    """Split the optional free-text ``label`` off a mint request: (the rest, the label)."""
    if not isinstance(body, Mapping) or LABEL_FIELD not in body:
        return body, ""
    rest = {k: v for k, v in body.items() if k != LABEL_FIELD}
    label = body[LABEL_FIELD]
    if label is None:
        return rest, ""
    if not isinstance(label, str):
        raise FieldError(LABEL_FIELD, "must be text")
    label = " ".join(label.split())
    if len(label) > MAX_LABEL:
        raise FieldError(LABEL_FIELD, f"longer than {MAX_LABEL} characters")
    return rest, label


def parse_mint_request(body: object, mailboxes: Mapping[str, MailboxEntry]) -> MintRequest:
    if not isinstance(body, Mapping):
        raise FieldError("body", "must be a JSON object")
    allowed = (*TEXT_CLAIMS, TTL_FIELD)
    for name in body:
        if name not in allowed:
            raise FieldError(str(name), f"unknown field; use {', '.join(allowed)}")
    claims = {name: _text(name, body[name]) for name in TEXT_CLAIMS if name in body}
    ttl = _ttl(body[TTL_FIELD]) if TTL_FIELD in body else DEFAULT_TTL
    _check_location(claims, mailboxes)
    return MintRequest(claims=claims, ttl=ttl)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise FieldError(name, "must be text")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise FieldError(name, f"longer than {MAX_TEXT} characters")
    if not value and name != "prefix":
        raise FieldError(name, "must not be empty")
    return value


def _ttl(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(TTL_FIELD, "must be a whole number of seconds (null: never expires)")
    if not 1 <= value <= MAX_TTL:
        raise FieldError(TTL_FIELD, f"must be between 1 and {MAX_TTL} seconds")
    return value


def _check_location(claims: dict[str, str], mailboxes: Mapping[str, MailboxEntry]) -> None:
    """The claims must describe exactly one mailbox: a name, a bucket, or provider none/demo."""
    if "mailbox" in claims:
        for name in (*BUCKET_CLAIMS, "provider"):
            if name in claims:
                raise FieldError(name, "cannot be combined with mailbox")
        if claims["mailbox"] not in mailboxes:
            raise FieldError("mailbox", f"unknown mailbox {claims['mailbox']!r}")
        return
    provider = claims.get("provider", "s3").lower()
    if provider not in PROVIDERS:
        raise FieldError("provider", f"must be one of {', '.join(PROVIDERS)}")
    if "provider" in claims:
        claims["provider"] = provider
    if provider != "s3":
        for name in BUCKET_CLAIMS:
            if name in claims:
                raise FieldError(name, f"not used with provider {provider}")
        return
    _check_bucket(claims)


def _check_bucket(claims: dict[str, str]) -> None:
    if not claims.get("bucket"):
        raise FieldError("bucket", "required (or give mailbox, or provider none or demo)")
    key_id, secret = "awsAccessKeyID", "awsSecretAccessKey"
    if key_id in claims and secret not in claims:
        raise FieldError(secret, f"required together with {key_id}")
    if secret in claims and key_id not in claims:
        raise FieldError(key_id, f"required together with {secret}")
    if "awsSessionToken" in claims and key_id not in claims:
        raise FieldError(key_id, "required together with awsSessionToken")


__all__ = [
    "DEFAULT_TTL",
    "MAX_TTL",
    "FieldError",
    "MintRequest",
    "MintingUnavailable",
    "TokenMinter",
    "UnknownMailbox",
]


def minter_following(settings_now: Callable[[], Settings]) -> Callable[[], TokenMinter]:
    """The minter for the settings in force now: rebuilt once after a SIGHUP reload swapped the
    ``mailboxes`` or ``jwt-secrets`` tables, the same object otherwise."""
    built: list[tuple[Settings, TokenMinter]] = []

    def current() -> TokenMinter:
        settings = settings_now()
        if not built or built[0][0] is not settings:
            built[:] = [(settings, TokenMinter.from_settings(settings))]
        return built[0][1]

    return current
