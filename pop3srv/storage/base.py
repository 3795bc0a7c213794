"""The ``MessageStore`` protocol, the message metadata it lists, and the errors it may raise.

Stores know nothing about POP3 sessions: they list, stream and delete raw messages by key.
Every store-specific failure is translated into one of the errors below before it leaves
``storage/``, so sessions can map them to RFC 3206 response codes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

#: SES writes this object when a receipt rule is set up; it is not mail.
SES_SETUP_NOTIFICATION = "AMAZON_SES_SETUP_NOTIFICATION"

#: Size of the chunks stores stream message bodies in.
CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True, order=True, slots=True)  # slots: less memory per listed message
class MessageInfo:
    """One message as listed: ordered by arrival, then key (the POP3 numbering)."""

    arrived: float
    key: str
    #: octets RETR sends (RFC 1939 section 11); S3 stores list the stored size (see sizes.py)
    size: int
    #: what identifies the content (an S3 ETag; a file's inode, size and mtime), "" if the
    #: store has none; a QUIT deletes a message only while it is still this (``delete``)
    etag: str = field(default="", compare=False)


#: ``MessageInfo``'s own order as a sort key, ``(arrived, key, size)``: sorting by it compares
#: tuples in C, where the dataclass's generated ``__lt__`` costs ~1 µs a comparison (a
#: 10,000-message listing is sorted at every login); an ``attrgetter``, so no Python call per
#: message either (a function here was ~1/3 of numbering 50,000 messages)
listing_order: Callable[[MessageInfo], tuple[float, str, int]] = operator.attrgetter(
    "arrived", "key", "size"
)


@dataclass(frozen=True)
class DeleteResult:
    """What a batch delete achieved; ``failed`` keys are still in the store."""

    deleted: tuple[str, ...]
    failed: tuple[str, ...] = ()
    #: why they failed, as the store's error codes (e.g. ``AccessDenied``), for the log
    codes: tuple[str, ...] = ()
    #: left in place: not the message listed any more (replaced under the same name); the
    #: listed message is gone, so these are not failures either
    changed: tuple[str, ...] = ()


class StoreError(Exception):
    """Base of store failures; the message is safe to log (no secrets, no mail).

    Stores that know more say it in ``operation`` (e.g. ``list_objects_v2``), ``code`` (the
    service's error code) and ``status`` (HTTP): the failure log writes them as fields.
    """

    operation: str | None = None
    code: str | None = None
    status: int | None = None


class StoreUnavailable(StoreError):
    """A transient failure (outage, throttling, timeout): RFC 3206 ``SYS/TEMP``."""


class StoreDenied(StoreError):
    """The credentials are refused or the bucket does not exist: ``AUTH`` / ``SYS/PERM``."""


class MessageGone(StoreError):
    """The message disappeared from the store since the session's snapshot."""


class MessageUndecryptable(StoreError):
    """An encrypted message whose envelope is malformed, whose data key KMS refuses to unwrap
    for its encryption context, or whose ciphertext fails authentication: ``SYS/PERM``."""


class MessageStore(Protocol):
    """A maildrop's messages, addressed by key (the UIDL, relative to the store's prefix)."""

    async def check_access(self) -> None:
        """Raise ``StoreDenied``/``StoreUnavailable`` unless the store can be listed."""

    async def list_messages(self) -> list[MessageInfo]:
        """Every message, sorted by arrival then key."""

    def stream(self, key: str, *, first_chunk: int | None = None) -> AsyncGenerator[bytes, None]:
        """Yield the raw message in chunks; close it early (``aclosing``) to stop reading.

        Nothing fails at this call: opening the message (or its folder) happens at the first
        read, so every failure is a ``StoreError`` of the iteration.

        ``first_chunk`` hints that the caller may only need the beginning (TOP): stores that
        pay per request fetch that many bytes first and widen only when asked for more.
        """

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        """Remove these messages; a key already gone counts as deleted. With ``expected``
        (key -> its listed ``MessageInfo.etag``), a message whose content is no longer that
        one is left in place (``changed``), so new mail under a reused name is never lost."""


@dataclass(frozen=True)
class FolderLocation:
    """A mailbox in the local mail folder: ``root/prefix``."""

    root: Path
    prefix: str = ""

    @property
    def lock_key(self) -> str:
        return f"folder:{self.root / self.prefix}"

    @property
    def parts(self) -> list[str]:
        """The prefix's folders below ``root`` (empty and ``.`` parts dropped)."""
        return [part for part in self.prefix.split("/") if part not in ("", ".")]

    @property
    def directory(self) -> Path:
        return self.root.joinpath(*self.parts)


@dataclass(frozen=True)
class S3Credentials:
    """Static AWS credentials; none means the default credential chain."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


#: the characters of S3 bucket names (older us-east-1 buckets: capitals, ``_``, up to 255);
#: a space, ``?``, ``#`` or ``/`` would change the store client's request line
BUCKET_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")
#: botocore's rule for region names
REGION_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: AWS keys and session tokens: printable ASCII without spaces (they go into HTTP headers)
KEY_TEXT = re.compile(r"[!-~]*")


def within_folder(prefix: str, folder: str) -> bool:
    """Whether the S3 key ``prefix`` is ``folder`` or inside it; ``x``, ``x/`` and ``/x/``
    count as one folder, so a near-miss spelling never slips through."""
    inner, outer = (p.strip("/") + "/" if p.strip("/") else "" for p in (prefix, folder))
    return inner == outer or (bool(outer) and inner.startswith(outer))


@dataclass(frozen=True)
class S3Location:
    """A mailbox in a bucket: every object directly under ``prefix``."""

    bucket: str
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None
    credentials: S3Credentials | None = None
    #: KMS endpoint for SES-encrypted mail; None: the region's standard endpoint
    kms_endpoint_url: str | None = None

    @property
    def lock_key(self) -> str:
        return f"s3:{self.endpoint_url or 'aws'}/{self.bucket}/{self.prefix.strip('/')}"


@dataclass(frozen=True)
class EmptyLocation:
    """A mailbox with no messages (the original's ``none`` provider, or no store configured)."""

    name: str = "empty"

    @property
    def lock_key(self) -> str:
        return f"empty:{self.name}"


@dataclass(frozen=True)
class DemoLocation:
    """The original's ``demo`` provider: one sample message, nothing really deleted."""

    name: str = "demo"

    @property
    def lock_key(self) -> str:
        return f"demo:{self.name}"


Location = FolderLocation | S3Location | EmptyLocation | DemoLocation
