"""A held S3 maildrop lock (:class:`S3Lease`), and time by the S3 server's clock: when a
response was made (its Date header) and whether a takeover mark's ``wanted-until`` has passed.
Used by :mod:`pop3srv.storage.s3lock`, which takes, renews, answers and releases the leases."""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

from pop3srv.storage.base import S3Location


@dataclass
class S3Lease:
    """A held lock; ``lost`` once a renewal found it taken over."""

    location: S3Location
    key: str
    etag: str
    on_lost: Callable[[], None] = field(repr=False)
    #: asked with the requester's address when a login elsewhere wants the mailbox; True if
    #: the session is being ended (then the lock is released with it)
    on_wanted: Callable[[str], bool] | None = field(default=None, repr=False)
    renewed_at: float = 0.0
    yielded: bool = False  # given up to a takeover request; only the release remains
    lost: bool = False
    released: bool = False
    #: renewal and release of one lease never overlap (each changes the ETag)
    busy: trio.Lock = field(default_factory=trio.Lock, repr=False)


def s3_now(head: Any) -> float | None:
    """The S3 server's time of a response (its Date header), if it sent one."""
    headers = head.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    if "date" not in headers:
        return None
    return email.utils.parsedate_to_datetime(headers["date"]).timestamp()


def mark_given_up(metadata: Mapping[str, str], head: Any) -> bool:
    """Whether the login that marked the lock has stopped waiting for it (its ``wanted-until``
    has passed by the S3 server's clock): then an idle holder keeps its session."""
    until, now = metadata.get("wanted-until"), s3_now(head)
    return until is not None and now is not None and now > float(until)
