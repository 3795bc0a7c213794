"""Builds the configured ``Authenticator`` (one provider or a chain) from settings."""

from __future__ import annotations

import httpx

from pop3srv.auth.apppassword import AppPasswordAuthenticator
from pop3srv.auth.base import Authenticator
from pop3srv.auth.chain import ChainAuthenticator
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.http import HttpCallbackAuthenticator
from pop3srv.auth.jwt import JwtAuthenticator
from pop3srv.auth.ledger import TokenLedger
from pop3srv.auth.static import StaticAuthenticator, StaticEntry
from pop3srv.auth.tokens import app_password_key
from pop3srv.config import Settings
from pop3srv.storage.base import Location, S3Credentials


def mailbox_resolver(settings: Settings) -> MailboxResolver:
    s3 = settings.s3
    reserved = (s3.lock_prefix, *((s3.trash_prefix,) if s3.delete_mode == "trash" else ()))
    return MailboxResolver(
        mailboxes=settings.auth.mailboxes,
        mail_dir=settings.store.mail_dir,
        default_region=settings.s3.region,
        default_endpoint=settings.s3.endpoint_url,
        default_credentials=server_credentials(settings),
        default_kms_endpoint=settings.s3.kms_endpoint_url,
        reserved=reserved,
    )


def server_credentials(settings: Settings) -> S3Credentials | None:
    """The configured ``aws-access-key-id``/``aws-secret-access-key``/``aws-session-token``;
    None: the AWS default credential chain."""
    s3 = settings.s3
    if s3.access_key_id and s3.secret_access_key:
        return S3Credentials(s3.access_key_id, s3.secret_access_key, s3.session_token)
    return None


def build_authenticator(
    settings: Settings,
    default_location: Location,
    http_client: httpx.AsyncClient,
    ledger: TokenLedger | None = None,
) -> Authenticator:
    """The provider chain of ``settings.auth.providers`` (validated by config); minted
    passwords are checked against ``ledger`` (the token registry) when given."""
    resolver = mailbox_resolver(settings)
    providers = [
        _provider(name, settings, resolver, default_location, http_client, ledger=ledger)
        for name in settings.auth.providers
    ]
    return providers[0] if len(providers) == 1 else ChainAuthenticator(providers)


def _provider(
    name: str,
    settings: Settings,
    resolver: MailboxResolver,
    default_location: Location,
    http_client: httpx.AsyncClient,
    *,
    ledger: TokenLedger | None,
) -> Authenticator:
    auth = settings.auth
    match name:
        case "jwt":
            return JwtAuthenticator(
                resolver,
                secret=auth.jwt_secret,
                secrets=auth.jwt_secrets,
                algorithms=auth.jwt_algorithms,
                leeway=auth.jwt_leeway,
                ledger=ledger,
                require_jti=auth.require_jti,
            )
        case "http":
            assert auth.http_basic_auth_url is not None
            return HttpCallbackAuthenticator(auth.http_basic_auth_url, http_client, resolver)
        case "app-password":
            key = app_password_key(auth.app_password_secret, auth.jwt_secret)
            assert key is not None
            return AppPasswordAuthenticator(key, resolver, ledger)
    entries = [StaticEntry(auth.user, auth.password, default_location)]
    for user in auth.users.values():
        location = resolver.named(user.mailbox) if user.mailbox else default_location
        entries.append(StaticEntry(user.name, user.password, location))
    return StaticAuthenticator(tuple(entries))
