"""The structured login settings: ``mailboxes`` and ``users`` entries, the tables holding them,
JWT secrets by key id, and the checked lists (algorithms, providers, CIDRs). Part of
:mod:`pop3srv.config`.

Shapes (YAML shown; TOML tables or JSON in an environment variable work the same)::

    mailboxes:
      work: {bucket: ses-mail, prefix: work/, region: eu-west-1}   # S3, see `keys_for`
      local: {folder: jane}                                         # under mail-dir
    users:
      jane: {password: "...", mailbox: work}
    jwt-secrets: {"2026-11": "..."}          # kid -> secret, for rotation
    auth-providers: [jwt, app-password]       # default: jwt, else http, else static
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import field
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator
from pydantic import model_validator as _model_validator
from pydantic.dataclasses import dataclass

from pop3srv.config.kinds import Texts, complaint, json_table, plain_error

PROVIDERS = ("jwt", "http", "static", "app-password")
ALGORITHMS = ("HS256", "HS384", "HS512")
_STRICT = ConfigDict(extra="forbid")
_ALIASES = {  # the original's key names are accepted inside a mailbox too
    "aws_access_key_id": "access_key_id",
    "aws_secret_access_key": "secret_access_key",
    "aws_session_token": "session_token",
    "aws_s3_region": "region",
    "aws_s3_bucket": "bucket",
    "aws_s3_prefix": "prefix",
    "aws_s3_endpoint_url": "endpoint_url",
    "aws_kms_endpoint_url": "kms_endpoint_url",
}
Version = Annotated[int, Field(ge=1, strict=True), complaint("is not a whole number >= 1")]
OptField = Annotated[Annotated[str, Field(strict=True)] | None, complaint("is not text")]


@dataclass(frozen=True, config=_STRICT)
class MailboxEntry:
    """A mailbox defined in the ``mailboxes`` table: a bucket prefix or a local folder."""

    name: str
    bucket: OptField = None
    prefix: Annotated[str, Field(strict=True), complaint("is not text")] = ""
    region: OptField = None
    endpoint_url: OptField = None
    kms_endpoint_url: OptField = None
    access_key_id: OptField = None
    secret_access_key: OptField = field(default=None, repr=False)
    session_token: OptField = field(default=None, repr=False)
    folder: OptField = None  # relative to mail-dir
    app_password_version: Version = 1  # bump to revoke every app password of this mailbox

    @field_validator("folder")
    @classmethod
    def _inside(cls, folder: str | None) -> str | None:
        if folder is not None and ".." in folder.split("/"):
            raise plain_error("must stay inside mail-dir")
        return None if folder is None else folder.strip("/")

    @_model_validator(mode="after")
    def _shape(self) -> MailboxEntry:
        if (self.bucket is None) == (self.folder is None):
            raise plain_error("needs exactly one of bucket or folder")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise plain_error("aws-access-key-id and aws-secret-access-key go together")
        return self


@dataclass(frozen=True, config=_STRICT)
class UserEntry:
    """A static login from the ``users`` table; ``mailbox`` names a ``mailboxes`` entry
    (None: the default mailbox, the configured bucket or mail-dir)."""

    name: str
    password: Annotated[
        str, Field(min_length=1), complaint("is not a password (non-empty text)")
    ] = field(repr=False)
    mailbox: OptField = None


def _entries(value: object) -> object:
    """``{name: {field: ...}}`` -> ``{name: {"name": name, field: ...}}`` (dash keys and the
    original's key names accepted); anything else is left for pydantic to refuse."""
    value = _json(value)
    if not isinstance(value, Mapping):
        raise plain_error("is not a table")
    out: dict[str, object] = {}
    for name, entry in value.items():
        out[str(name)] = entry
        if isinstance(entry, Mapping):
            fields = {str(k).strip().lower().replace("-", "_"): v for k, v in entry.items()}
            out[str(name)] = {_ALIASES.get(k, k): v for k, v in fields.items()} | {"name": name}
    return out


def _json(value: object) -> object:
    try:
        return json_table(value)
    except ValueError:
        raise plain_error("is not a table (JSON or TOML)") from None


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


Mailboxes = Annotated[
    Mapping[str, MailboxEntry], BeforeValidator(_entries), AfterValidator(_frozen)
]
Users = Annotated[Mapping[str, UserEntry], BeforeValidator(_entries), AfterValidator(_frozen)]
JwtSecret = Annotated[
    str, Field(min_length=16, strict=True), complaint("is not text of 16+ characters")
]
JwtSecrets = Annotated[Mapping[str, JwtSecret], BeforeValidator(_json), AfterValidator(_frozen)]


def _algorithms(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise plain_error("must name at least one algorithm")
    for algorithm in value:
        if algorithm not in ALGORITHMS:
            raise plain_error(f"{algorithm!r} is not allowed; use {', '.join(ALGORITHMS)}")
    return value


def _providers(value: tuple[str, ...]) -> tuple[str, ...]:
    for provider in value:
        if provider not in PROVIDERS:
            raise plain_error(f"unknown provider {provider!r}; use {', '.join(PROVIDERS)}")
    return value


def _networks(value: tuple[str, ...]) -> tuple[str, ...]:
    for cidr in value:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise plain_error(f"{cidr!r} is not an address or CIDR network") from None
    return value


PrefixLength = Annotated[
    int, Field(ge=0, le=128, strict=True), complaint("is not a prefix length (0-128)")
]
Algorithms = Annotated[Texts, AfterValidator(_algorithms)]
Providers = Annotated[Texts, AfterValidator(_providers)]
Networks = Annotated[Texts, AfterValidator(_networks)]


def keys_for(entry: MailboxEntry | None, server: tuple[str | None, str | None, str | None]) -> str:
    """Which S3 keys a mailbox uses (``None`` entry: the configured default mailbox), shown by
    check-config: its own, else the configured ``aws-*`` keys, else the AWS default chain."""
    if entry is not None and entry.access_key_id is not None:
        return f"own keys ({entry.access_key_id})"
    if server[0] is not None and server[1] is not None:
        return f"aws-access-key-id ({server[0]})" + (" + session token" if server[2] else "")
    return "the AWS default credential chain"
