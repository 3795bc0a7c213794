"""The kinds of configuration value (port, seconds, list, the ``mailboxes`` table ...), each an
``Annotated`` type that pydantic validates; a bad value earns one complaint."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, NoReturn

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WrapValidator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from pop3srv.storage.base import BUCKET_NAME, KEY_TEXT, REGION_NAME

#: marks the text and path kinds: an environment value is taken as typed, never parsed
VERBATIM = "verbatim"
PROVIDERS = ("jwt", "http", "static", "app-password")
ALGORITHMS = ("HS256", "HS384", "HS512")


def complaint(text: str) -> WrapValidator:
    """Any failure of the validators inside becomes one ``bad_value`` error saying ``text``
    (shown after the value, never a secret's)."""

    def wrap(value: object, handler: Callable[[object], object]) -> object:
        try:
            return handler(value)
        except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
            raise PydanticCustomError("bad_value", text) from None

    return WrapValidator(wrap)


def refuse(text: str) -> NoReturn:
    """Fails validation with an error saying ``text`` alone."""
    raise PydanticCustomError("plain", text)


def _check(ok: Callable[[Any], bool], message: str, *, each: bool = False) -> AfterValidator:
    """The value (``each``: every item of it) must pass ``ok``, else ``message`` (``{item}``
    filled in) is the complaint."""

    def check(value: Any) -> Any:
        for item in value if each else (value,):
            if not ok(item):
                refuse(message.format(item=item))
        return value

    return AfterValidator(check)


def resolve(text: str, cwd: Path, home: Path) -> Path:
    """A path as written: relative against the working directory, ``~`` against home."""
    return home / text[2:] if text == "~" or text.startswith("~/") else cwd / text


def _resolve(value: object, info: ValidationInfo) -> object:
    """Against the validation context's ``cwd`` and ``home``, when given."""
    where = info.context
    return resolve(str(value), **where) if isinstance(value, str | Path) and where else value


def _split(value: object) -> object:
    """From the environment: ``a, b`` or a JSON list."""
    if isinstance(value, str) and not value.strip().startswith("["):
        return [item.strip() for item in value.split(",") if item.strip()]
    return json.loads(value) if isinstance(value, str) else value


def _table(value: object) -> object:
    """From the environment: a JSON object (TOML inline tables arrive parsed already)."""
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        refuse("is not a table (JSON or TOML)")


INSIDE_MAIL_DIR = "must stay inside mail-dir (a relative path, no ..)"


def inside_mail_dir(folder: str) -> bool:
    """A sub-folder of mail-dir as written (a ``mailboxes`` folder, the folder store's prefix):
    relative, and never up with ``..``."""
    return not (folder.startswith("/") or ".." in folder.split("/"))


def _network(text: str) -> bool:
    try:
        return bool(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return False


# YAML `true` is not a number; `password: true` is "true" as Go's viper would read it
_NUMBER = BeforeValidator(lambda v: "bool" if isinstance(v, bool) else v)
_TEXT = BeforeValidator(lambda v: str(v).lower() if isinstance(v, bool | int | float) else v)
_NOT_EMPTY = BeforeValidator(lambda v: refuse("must not be empty") if v == "" else v)
_UNSET_IF_EMPTY = BeforeValidator(lambda v: None if v == "" else v)
_STRICT_TEXT = Annotated[str, Field(strict=True)]

Port = Annotated[int, _NUMBER, Field(ge=0, le=65535), complaint("is not a port (0-65535)")]
Count = Annotated[int, _NUMBER, Field(ge=1), complaint("is not a whole number >= 1")]
Whole = Annotated[int, _NUMBER, Field(ge=0), complaint("is not a whole number >= 0")]
PrefixLength = Annotated[
    int, Field(ge=0, le=128, strict=True), complaint("is not a prefix length (0-128)")
]
Seconds = Annotated[
    float, _NUMBER, Field(gt=0, allow_inf_nan=False), complaint("is not a number of seconds > 0")
]
Duration = Annotated[
    float, _NUMBER, Field(ge=0, allow_inf_nan=False), complaint("is not a number of seconds >= 0")
]
Flag = Annotated[bool, complaint("is not a boolean (true or false)")]
AnyText = Annotated[str, _TEXT, complaint("is not text"), VERBATIM]  # "" allowed
Text = Annotated[AnyText, _NOT_EMPTY]
OptText = Annotated[AnyText | None, _UNSET_IF_EMPTY, VERBATIM]
FsPath = Annotated[Path, BeforeValidator(_resolve), complaint("is not text"), _NOT_EMPTY, VERBATIM]
OptPath = Annotated[FsPath | None, _UNSET_IF_EMPTY, VERBATIM]
Texts = Annotated[
    tuple[str, ...],
    BeforeValidator(_split),
    AfterValidator(lambda items: tuple(item.strip() for item in items)),
    complaint("is not a list of texts"),
]
Algorithms = Annotated[
    Texts,
    _check(bool, "must name at least one algorithm"),
    _check(ALGORITHMS.__contains__, "{item!r} is not allowed; use HS256, HS384, HS512", each=True),
]
Providers = Annotated[
    Texts,
    _check(
        PROVIDERS.__contains__, "unknown provider {item!r}; use " + ", ".join(PROVIDERS), each=True
    ),
]
Networks = Annotated[
    Texts, _check(_network, "{item!r} is not an address or CIDR network", each=True)
]


def _named(pattern: re.Pattern[str], what: str, *, secret: bool = False) -> AfterValidator:
    """Unset, or text of the shape ``pattern`` (a secret's value is never shown)."""
    message = ("is not " if secret else "{item!r} is not ") + what
    return _check(lambda text: text is None or pattern.fullmatch(text) is not None, message)


_BUCKET = _named(BUCKET_NAME, "an S3 bucket name (letters, digits, '.', '-', '_')")
_REGION = _named(REGION_NAME, "an AWS region name (e.g. eu-west-1)")
_KEY = _named(KEY_TEXT, "an AWS key (printable ASCII, no spaces)", secret=True)
Bucket = Annotated[OptText, _BUCKET]
Region = Annotated[OptText, _REGION]
AwsKey = Annotated[OptText, _KEY]


EntryText = Annotated[_STRICT_TEXT | None, complaint("is not text")]


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class MailboxEntry:
    """A mailbox defined in the ``mailboxes`` table: a bucket prefix or a local folder."""

    name: str
    bucket: Annotated[EntryText, _BUCKET] = None
    prefix: Annotated[_STRICT_TEXT, complaint("is not text")] = ""
    region: Annotated[EntryText, _REGION] = None
    endpoint_url: EntryText = None
    kms_endpoint_url: EntryText = None
    access_key_id: Annotated[EntryText, _KEY] = None
    secret_access_key: Annotated[EntryText, _KEY] = field(default=None, repr=False)
    session_token: Annotated[EntryText, _KEY] = field(default=None, repr=False)
    #: relative to mail-dir
    folder: Annotated[
        EntryText,
        _check(lambda f: f is None or inside_mail_dir(f), INSIDE_MAIL_DIR),
        AfterValidator(lambda f: f if f is None else f.strip("/")),
    ] = None
    #: bump to revoke every app password of this mailbox
    app_password_version: Annotated[
        int, Field(ge=1, strict=True), complaint("is not a whole number >= 1")
    ] = 1

    @model_validator(mode="after")
    def _shape(self) -> MailboxEntry:
        if (self.bucket is None) == (self.folder is None):
            refuse("needs exactly one of bucket or folder")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            refuse("aws-access-key-id and aws-secret-access-key go together")
        return self


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class UserEntry:
    """A static login from the ``users`` table; ``mailbox`` names a ``mailboxes`` entry
    (None: the default mailbox, the configured bucket or mail-dir)."""

    name: str
    password: Annotated[
        str, Field(min_length=1), complaint("is not a password (non-empty text)")
    ] = field(repr=False)
    mailbox: EntryText = None


def _field(name: object) -> str:
    """A table entry's field name: dash or underscore form, or the original's key name of it
    (``aws-s3-bucket``: the ``s3`` group's keys stand for the fields of the same name)."""
    from pop3srv.config.schema import KEYS  # noqa: PLC0415 - the schema is made of these kinds

    name = str(name).strip().lower().replace("_", "-")
    key = KEYS.get(name)
    return key.path[-1] if key and key.path[:1] == ("s3",) else name.replace("-", "_")


def _entries(value: object) -> object:
    """``{name: {field: ...}}`` -> ``{name: {"name": name, field: ...}}``."""
    value = _table(value)
    if not isinstance(value, Mapping):
        refuse("is not a table")
    return {
        str(name): {_field(k): v for k, v in entry.items()} | {"name": name}
        if isinstance(entry, Mapping)
        else entry  # refused by pydantic, naming the entry
        for name, entry in value.items()
    }


_FROZEN = AfterValidator(lambda table: MappingProxyType(dict(table)))
Mailboxes = Annotated[Mapping[str, MailboxEntry], BeforeValidator(_entries), _FROZEN]
Users = Annotated[Mapping[str, UserEntry], BeforeValidator(_entries), _FROZEN]
JwtSecret = Annotated[
    _STRICT_TEXT, Field(min_length=16), complaint("is not text of 16+ characters")
]
JwtSecrets = Annotated[Mapping[str, JwtSecret], BeforeValidator(_table), _FROZEN]
