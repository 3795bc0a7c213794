"""S3 message store: the raw messages SES writes into a bucket, one object per message.

The mailbox is every object *directly* under the store's prefix:

* Prefix semantics follow aws-ses-pop3-server: the empty prefix is the bucket root; any other
  prefix names a folder, so ``inbox`` and ``inbox/`` both mean the keys ``inbox/<name>``
  (a missing final ``/`` is added, as the original does; ``inboxfoo`` is never part of
  ``inbox``). The UIDL of a message is its key relative to that folder.
* Not messages: ``AMAZON_SES_SETUP_NOTIFICATION``, the folder marker (the prefix itself, a
  zero-byte ``inbox/``) and anything in a sub-folder (``inbox/sub/...``, listed with
  ``Delimiter="/"`` so sub-folder keys come back as common prefixes and are never fetched).
* Numbering follows ``LastModified`` (the arrival time), then the key; the listing follows
  ListObjectsV2's continuation tokens page by page (``s3list``, on the lean GET path), after
  the first page in key ranges side by side (``s3ranges``), so mailboxes of any size are
  served whole; the first page doubles as the access check.

Reading never holds a whole message: RETR is one GetObject (``s3get``'s lean path, in the event
loop) whose body is handed on as it arrives; TOP (``first_chunk``) asks for a byte range first and
widens (doubling, up to ``MAX_RANGE``) with further ranged GETs only while the reader keeps
asking, each one pinned to the first response's ETag (``If-Match``) so a replaced object is
reported as gone instead of being spliced. A body is closed whenever its reader stops early or
is cancelled.

Deleting (``s3delete``) uses DeleteObjects in quiet mode, at most 1,000 keys per request. With a
trash prefix each message is first copied to ``<trash_prefix><full key>`` and only the copied
ones are deleted (a message that cannot be copied is reported as not removed).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from pathlib import Path

from pop3srv.storage.base import (
    SES_SETUP_NOTIFICATION,
    DeleteResult,
    MessageGone,
    MessageInfo,
    S3Location,
    listing_order,
)
from pop3srv.storage.encrypted import Decryptor, encrypted
from pop3srv.storage.kms import DataKeys
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3delete import DELETE_BATCH, S3Deleter
from pop3srv.storage.s3errors import RangeNotSatisfiable
from pop3srv.storage.s3list import Listed, Page, list_page
from pop3srv.storage.s3object import S3Object
from pop3srv.storage.s3ranges import list_rest

#: Largest byte range one TOP request widens to.
MAX_RANGE = 8 * 1024 * 1024

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def folder_prefix(prefix: str) -> str:
    """The key prefix of a mailbox: ``""`` stays the bucket root, ``inbox`` becomes ``inbox/``."""
    if prefix and not prefix.endswith("/"):
        return prefix + "/"
    return prefix


class S3Store:
    """``MessageStore`` over the objects directly under one prefix of one bucket."""

    #: every GET is a round trip: sessions read the next messages ahead (``readahead``)
    read_ahead = True

    def __init__(
        self,
        location: S3Location,
        pool: S3Pool,
        *,
        trash_prefix: str | None = None,
        delete_batch: int = DELETE_BATCH,
        spool_dir: Path | None = None,
    ) -> None:
        if trash_prefix is not None and not trash_prefix.strip("/"):
            raise ValueError("trash_prefix must name a folder, not the bucket root")
        if not 1 <= delete_batch <= DELETE_BATCH:
            raise ValueError(f"delete_batch must be between 1 and {DELETE_BATCH}")
        self._location = location
        self._pool = pool
        self._pool_key = pool.key(location)  # the pool still picks the client per request
        self._bucket = location.bucket
        self._prefix = folder_prefix(location.prefix)
        self._trash = folder_prefix(trash_prefix) if trash_prefix is not None else None
        self._deleter = S3Deleter(
            pool, location, self, trash=self._trash is not None, batch=delete_batch
        )
        self._first_page: Page | None = None
        #: SES-encrypted objects (``encrypted.py``): this login's data keys, the spool folder
        self._decryptor = Decryptor(pool.metrics, DataKeys(pool, location), spool_dir=spool_dir)

    @property
    def location(self) -> S3Location:
        return self._location

    @property
    def prefix(self) -> str:
        """The key prefix of this mailbox (see ``folder_prefix``)."""
        return self._prefix

    def object_key(self, key: str) -> str:
        """The full S3 key of the message whose UIDL is ``key``."""
        if not _is_message_name(key):
            raise MessageGone("no such message")
        return self._prefix + key

    def trash_key(self, key: str) -> str:
        """Where ``delete`` puts a copy of ``key`` in trash mode."""
        if self._trash is None:
            raise ValueError("this store deletes for good (no trash prefix)")
        return self._trash + self.object_key(key)

    # --- listing ------------------------------------------------------------------------

    async def check_access(self) -> None:
        """The listing's first page: bad credentials or a missing bucket fail here, at PASS
        time, as ``StoreDenied``; ``list_messages`` then goes on from this page, so a login
        makes no request just to check access."""
        self._first_page = await self._page(None)

    async def list_messages(self) -> list[MessageInfo]:
        page = self._first_page or await self._page(None)
        self._first_page = None
        messages = self._messages(page.objects)
        while page.next_token is not None:
            if page.objects:  # the rest of the keys in ranges at once (s3ranges)
                after = page.objects[-1].key
                limiter = self._pool.listing_ranges
                listed = len(page.objects)
                rest = await list_rest(self._page, self._prefix, after, listed, limiter=limiter)
                messages.extend(self._messages(rest))
                break
            page = await self._page(None, page.next_token)  # a page of sub-folders only
            messages.extend(self._messages(page.objects))
        messages.sort(key=listing_order)
        return messages

    async def _page(self, start_after: str | None, token: str | None = None) -> Page:
        getter = await self._pool.getter(self._location, self._pool_key)
        return await list_page(getter, self._bucket, self._prefix, token, start_after)

    def _messages(self, objects: list[Listed]) -> list[MessageInfo]:
        found = []
        for item in objects:
            if not item.key.startswith(self._prefix):
                continue
            name = item.key[len(self._prefix) :]
            if not _is_message_name(name):
                continue
            found.append(MessageInfo(item.last_modified, name, item.size, item.etag))
        return found

    # --- reading ------------------------------------------------------------------------

    async def stream(
        self, key: str, *, first_chunk: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        object_key = self.object_key(key)
        getter = await self._pool.getter(self._location, self._pool_key)
        if first_chunk is None:
            async with getter.get(self._bucket, object_key) as obj:
                if encrypted(obj.metadata):
                    async with aclosing(self._decrypted(key, obj)) as plaintext:
                        async for chunk in plaintext:
                            yield chunk
                    return
                async for chunk in obj.chunks():
                    yield chunk
            return
        offset, length = 0, max(1, first_chunk)
        etag: str | None = None
        whole = False  # an encrypted object: its tag covers all of it, so TOP reads it whole
        while not whole:
            byte_range = f"bytes={offset}-{offset + length - 1}"
            try:
                async with getter.get(
                    self._bucket, object_key, byte_range=byte_range, if_match=etag
                ) as obj:
                    etag = obj.etag or etag
                    end, total = _content_range(obj.content_range)
                    whole = offset == 0 and encrypted(obj.metadata)
                    if not whole:
                        async for chunk in obj.chunks():
                            yield chunk
            except RangeNotSatisfiable as exc:
                if offset == 0:
                    return  # an empty object
                raise MessageGone("message changed while being read") from exc
            if whole:
                break
            if end is None or total is None or end + 1 >= total:
                return  # the whole object came back (Range ignored), or its end was reached
            offset, length = end + 1, min(length * 2, MAX_RANGE)
        async with (
            getter.get(self._bucket, object_key, if_match=etag) as obj,
            aclosing(self._decrypted(key, obj)) as plaintext,
        ):
            async for chunk in plaintext:
                yield chunk

    def _decrypted(self, key: str, obj: S3Object) -> AsyncGenerator[bytes, None]:
        """The seam to ``encrypted.py``: an object with SES's KMS envelope, verified, then
        decrypted."""
        return self._decryptor.plaintext(obj.metadata, obj.chunks(), name=key)

    # --- deleting ---------------------------------------------------------------------

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        """Delete (or move to the trash) these messages (``s3delete``), each only while its
        ETag is still the one ``expected``."""
        return await self._deleter.delete(keys, expected=expected)


def _is_message_name(name: str) -> bool:
    return bool(name) and "/" not in name and name != SES_SETUP_NOTIFICATION


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(last byte, total size) from ``Content-Range: bytes 0-65535/41943040``."""
    match = _CONTENT_RANGE.fullmatch(header or "")
    if match is None:
        return None, None
    total = match.group(3)
    return int(match.group(2)), None if total == "*" else int(total)
