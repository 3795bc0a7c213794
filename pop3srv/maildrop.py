"""A login's maildrop: the snapshot taken at login, its numbering, deletion marks and commit list.

Pure data, no I/O (RFC 1939 sections 5-6): message numbers are fixed for the session (arrival
order, then key); DELE only marks; RSET unmarks; what QUIT commits is ``marked_keys()``.
Deleted messages vanish from STAT/LIST/UIDL and refuse RETR/TOP/DELE.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pop3srv.storage.base import MessageInfo, listing_order

DIGEST_PREFIX = "sha1-"
#: a key that is its own UIDL: 1-70 characters 0x21-0x7E (RFC 1939 section 7)
_PLAIN_UID = re.compile("[!-~]{1,70}")


class NoSuchMessage(Exception):
    """The number names no message, or one already marked deleted; ``str()`` is the -ERR text."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A numbered message of the snapshot."""

    number: int
    info: MessageInfo
    uid: str


def unique_id(key: str) -> str:
    """The UIDL of a key: the key itself when RFC 1939 allows it (1-70 chars 0x21-0x7E),
    otherwise a stable digest of it. A key that itself begins with the digest's ``sha1-`` is
    hashed too, so a key named like another's digest cannot share its UIDL."""
    if _PLAIN_UID.fullmatch(key) and not key.startswith(DIGEST_PREFIX):  # one C match
        return key
    return DIGEST_PREFIX + hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()  # noqa: S324


def in_order(messages: Sequence[MessageInfo]) -> Sequence[MessageInfo]:
    """``messages`` by ``listing_order``: as they are when they already are (every store lists
    them so: no second sort of 50,000 at a big login), else sorted. The check is C only."""
    order = list(map(listing_order, messages))
    if any(map(operator.gt, order, itertools.islice(order, 1, None))):
        return sorted(messages, key=listing_order)
    return messages


def totals(entries: Sequence[Entry]) -> tuple[int, int]:
    """Number and total octets of ``entries`` (``Maildrop.stat`` of the ``live()`` in hand)."""
    return len(entries), sum(entry.info.size for entry in entries)


class Maildrop:
    """The numbered messages of one session and which of them are marked deleted."""

    def __init__(self, messages: Sequence[MessageInfo]) -> None:
        self._entries = [
            Entry(n, info, unique_id(info.key)) for n, info in enumerate(in_order(messages), 1)
        ]
        self._deleted: set[int] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def stat(self) -> tuple[int, int]:
        """Number and total octets of the messages not marked deleted."""
        return totals(self.live())

    def live(self) -> list[Entry]:
        """Messages not marked deleted, by number."""
        return [e for e in self._entries if e.number not in self._deleted]

    def get(self, number: int) -> Entry:
        """The message with this number, unless it does not exist or is marked deleted."""
        if not 1 <= number <= len(self._entries):
            raise NoSuchMessage("no such message")
        if number in self._deleted:
            raise NoSuchMessage(f"message {number} already deleted")
        return self._entries[number - 1]

    def mark_deleted(self, number: int) -> Entry:
        entry = self.get(number)
        self._deleted.add(number)
        return entry

    def reset(self) -> None:
        self._deleted.clear()

    @property
    def marked_count(self) -> int:
        return len(self._deleted)

    def marked_keys(self) -> list[str]:
        """Store keys of the marked messages: what QUIT deletes."""
        return [self._entries[n - 1].info.key for n in sorted(self._deleted)]

    def marked_etags(self) -> dict[str, str]:
        """The listed identity (``MessageInfo.etag``) of each marked message that has one:
        QUIT deletes a message only while it is still that one."""
        marked = (self._entries[n - 1].info for n in sorted(self._deleted))
        return {info.key: info.etag for info in marked if info.etag}
