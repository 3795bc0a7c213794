"""Mailbox claims -> a store ``Location``: the JWT / HTTP-callback claim shape of
aws-ses-pop3-server (``awsAccessKeyID``, ``awsSecretAccessKey``, ``awsSessionToken``, ``region``,
``bucket``, ``prefix``, ``provider`` = s3|none|demo) plus ``mailbox``, a reference to an entry of
the server's ``mailboxes`` table (so the password carries no AWS secret).

S3 keys fall back in one order: the entry's (or the claims') own keys, else the server's
configured ``aws-access-key-id``/``aws-secret-access-key``/``aws-session-token``
(``default_credentials``), else None: the AWS default credential chain.

Claims never name a prefix the server keeps for itself in every bucket (``reserved``: the
``lock-prefix`` of the S3 locks and the token registry, the ``trash-prefix`` in trash mode):
its users would read the registry and other mailboxes' locks or deleted mail, and DELE them.
check-config refuses that for the ``mailboxes`` table; claims arrive at login."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pop3srv.auth.base import AuthFailed
from pop3srv.config import MailboxEntry
from pop3srv.storage.base import (
    BUCKET_NAME,
    KEY_TEXT,
    REGION_NAME,
    DemoLocation,
    EmptyLocation,
    FolderLocation,
    Location,
    S3Credentials,
    S3Location,
    within_folder,
)

#: claims that describe a bucket; they make no sense with ``mailbox`` or provider none/demo
BUCKET_CLAIMS = (
    "awsAccessKeyID",
    "awsSecretAccessKey",
    "awsSessionToken",
    "region",
    "bucket",
    "prefix",
)
TEXT_CLAIMS = (*BUCKET_CLAIMS, "provider", "mailbox")


class MalformedClaims(AuthFailed):
    """Claims of the wrong type or shape; refused like bad credentials."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="bad-claims")


@dataclass(frozen=True)
class MailboxResolver:
    """Turns claims or mailbox names into locations, with the server's defaults."""

    mailboxes: Mapping[str, MailboxEntry] = field(default_factory=dict)
    mail_dir: Path = Path("var/mail")
    default_region: str | None = None
    default_endpoint: str | None = None
    default_credentials: S3Credentials | None = None
    default_kms_endpoint: str | None = None
    #: prefixes claims may not name, nor any prefix inside them (``lock-prefix``, trash)
    reserved: tuple[str, ...] = ()

    def named(self, name: str) -> Location:
        entry = self.mailboxes.get(name)
        if entry is None:
            raise AuthFailed("invalid user name or password", reason="unknown-mailbox")
        return self.from_entry(entry)

    def from_entry(self, entry: MailboxEntry) -> Location:
        if entry.folder is not None:
            return FolderLocation(self.mail_dir, entry.folder)
        assert entry.bucket is not None, "config ensures bucket or folder"
        credentials = self.default_credentials
        if entry.access_key_id and entry.secret_access_key:
            credentials = S3Credentials(
                entry.access_key_id, entry.secret_access_key, entry.session_token
            )
        return S3Location(
            bucket=entry.bucket,
            prefix=entry.prefix,
            region=entry.region or self.default_region,
            endpoint_url=entry.endpoint_url or self.default_endpoint,
            credentials=credentials,
            kms_endpoint_url=entry.kms_endpoint_url or self.default_kms_endpoint,
        )

    def from_claims(self, claims: Mapping[str, object]) -> Location:
        """The location the claims describe; ``MalformedClaims`` if they describe none."""
        text = _text_claims(claims)
        if "mailbox" in text:
            return self.named(text["mailbox"])
        provider = text.get("provider", "").lower()
        if provider == "none":
            return EmptyLocation()
        if provider == "demo":
            return DemoLocation()
        if provider not in ("", "s3"):
            raise MalformedClaims("unknown mailbox provider")
        _check_bucket_claims(text, self.reserved)
        credentials = self.default_credentials
        if text.get("awsAccessKeyID") and text.get("awsSecretAccessKey"):
            credentials = S3Credentials(
                text["awsAccessKeyID"], text["awsSecretAccessKey"], text.get("awsSessionToken")
            )
        return S3Location(
            bucket=text["bucket"],
            prefix=text.get("prefix", ""),
            region=text.get("region") or self.default_region,
            endpoint_url=self.default_endpoint,
            credentials=credentials,
            kms_endpoint_url=self.default_kms_endpoint,
        )


def _check_bucket_claims(text: Mapping[str, str], reserved: tuple[str, ...]) -> None:
    """``MalformedClaims`` unless the bucket claims can be used as they are: a bucket name,
    a region name, keys without whitespace or control characters (they go into request lines
    and headers of the store's S3 client), a prefix outside the ``reserved`` ones."""
    if not text.get("bucket"):
        raise MalformedClaims("no bucket in the mailbox claims")
    if not BUCKET_NAME.fullmatch(text["bucket"]):
        raise MalformedClaims("the mailbox claims' bucket is not an S3 bucket name")
    if text.get("region") and not REGION_NAME.fullmatch(text["region"]):
        raise MalformedClaims("the mailbox claims' region is not an AWS region name")
    for name in ("awsAccessKeyID", "awsSecretAccessKey", "awsSessionToken"):
        if not KEY_TEXT.fullmatch(text.get(name, "")):
            raise MalformedClaims(f"the mailbox claims' {name} has spaces or control characters")
    if any(within_folder(text.get("prefix", ""), held) for held in reserved):
        raise MalformedClaims("the mailbox claims name the server's lock or trash prefix")


def _text_claims(claims: Mapping[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in TEXT_CLAIMS:
        value = claims.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MalformedClaims("malformed mailbox claims")
        out[name] = value
    return out
