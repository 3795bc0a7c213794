"""Deleting messages from an S3 mailbox (UPDATE state): DeleteObjects in quiet mode, at most
``DELETE_BATCH`` keys per request, blocking boto3 calls run by the pool's worker threads. With
a trash prefix each message is first copied to ``<trash_prefix><full key>`` and only the copied
ones are deleted. The copies are bodiless PUTs on the lean path (``s3get``: signed in the event
loop, no worker thread, on connections of their own), ``TRASH_COPIES`` at a time per commit
and ``S3Pool.trash_copies`` in the whole process, so a big trash QUIT neither waits on nor
starves the worker threads other sessions' lock renewals need, nor the connections RETRs
use; a message that cannot be copied is reported as not removed. A key already gone counts as
deleted. A key the XML body of DeleteObjects cannot carry (control characters; CR, which XML
reads as LF) is deleted by its own DeleteObject, so that it never fails the batch of every
other message.

Every request is conditional on the ETag the message was listed with (``expected``): the trash
copy (``CopySourceIfMatch``), DeleteObjects (each object's ``ETag``) and DeleteObject
(``If-Match``). An object replaced since (same key, new content: another writer's new mail) is
left in place and reported ``changed``, never deleted without having been seen; a trash copy
that found the listed object gone or replaced is followed by no delete at all. S3 servers
that ignore these conditions (moto, at the time of writing) delete as before."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import trio

from pop3srv.storage.base import DeleteResult, MessageGone, S3Location, StoreError
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3errors import GONE_CODES

#: DeleteObjects accepts at most this many keys per request.
DELETE_BATCH = 1000
#: CopyObject requests one commit keeps in flight while moving messages to the trash (the
#: process-wide bound is ``S3Pool.trash_copies``)
TRASH_COPIES = 32
#: what XML 1.0 cannot carry or would change (CR is read as LF): such keys go one by one
NOT_XML = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
#: the error code of a conditional request whose object is not the one listed any more
CHANGED_CODES = frozenset({"PreconditionFailed"})


def _replaced(exc: StoreError) -> bool:
    """Whether a ``MessageGone`` is a failed condition (412: replaced), not a missing key."""
    return exc.status == 412 or exc.code in CHANGED_CODES


class MailboxKeys(Protocol):
    """How a mailbox names its objects (``S3Store``)."""

    @property
    def prefix(self) -> str: ...

    def object_key(self, key: str) -> str: ...

    def trash_key(self, key: str) -> str: ...


class S3Deleter:
    """Deletes (or moves to the trash) messages of one mailbox."""

    def __init__(
        self, pool: S3Pool, location: S3Location, keys: MailboxKeys, *, trash: bool, batch: int
    ) -> None:
        self._pool = pool
        self._location = location
        self._keys = keys
        self._trash = trash
        self._batch = batch

    async def delete(
        self, keys: Sequence[str], *, expected: Mapping[str, str] | None = None
    ) -> DeleteResult:
        """Delete (or move to the trash) these messages, each only while its ETag is the
        one ``expected`` (when given).

        Keys S3 reports as failed are in ``failed``; a key already gone counts as deleted; a
        key whose object was replaced is in ``changed`` and stays. A ``StoreError`` is raised
        only when a request failed as a whole and nothing at all was removed; after a partial
        success the rest is reported in ``failed`` instead.
        """
        wanted = list(dict.fromkeys(keys))
        etags: Mapping[str, str] = expected or {}  # not copied: one commit passes it per batch
        failed: set[str] = set()
        changed: set[str] = set()
        removed: set[str] = set()
        first_error: StoreError | None = None
        for key in wanted:
            try:
                self._keys.object_key(key)
            except MessageGone:  # not a message name (a sub-folder key, the setup notice)
                failed.add(key)
        to_remove = [key for key in wanted if key not in failed]
        if self._trash and to_remove:
            copied, first_error = await self._copy_to_trash(to_remove, etags, changed, removed)
            settled = copied | changed | removed  # removed: found gone, nothing to delete
            failed.update(key for key in to_remove if key not in settled)
            to_remove = [key for key in to_remove if key in copied]
        codes: set[str] = set()
        batches = self._batches(to_remove)
        client = await self._pool.client(self._location) if batches else None
        for n, batch in enumerate(batches):
            try:
                refused = await self._delete_request(client, batch, etags, codes, changed)
            except StoreError as exc:
                first_error = first_error or exc
                failed.update(key for rest in batches[n:] for key in rest)
                break
            failed.update(refused)
            removed.update(key for key in batch if key not in refused and key not in changed)
        if not removed and not changed and first_error is not None:
            raise first_error
        return DeleteResult(
            deleted=tuple(key for key in wanted if key in removed),
            failed=tuple(key for key in wanted if key in failed),
            codes=tuple(sorted(codes)),
            changed=tuple(key for key in wanted if key in changed),
        )

    def _batches(self, keys: list[str]) -> list[list[str]]:
        """The keys in DeleteObjects batches, then each key XML cannot carry on its own."""
        odd = {key for key in keys if NOT_XML.search(self._keys.prefix + key)}
        plain = [key for key in keys if key not in odd]
        batches = [plain[i : i + self._batch] for i in range(0, len(plain), self._batch)]
        return batches + [[key] for key in keys if key in odd]

    async def _delete_request(
        self,
        client: Any,
        batch: list[str],
        etags: Mapping[str, str],
        codes: set[str],
        changed: set[str],
    ) -> set[str]:
        """Delete ``batch`` in one request, each key only at its ``etags`` ETag; returns the
        keys S3 refused (codes into ``codes``); replaced ones go into ``changed``."""
        if len(batch) == 1 and NOT_XML.search(self._keys.prefix + batch[0]):
            bucket, key = self._location.bucket, self._keys.prefix + batch[0]
            condition = {"IfMatch": etags[batch[0]]} if etags.get(batch[0]) else {}
            try:
                await self._pool.call(client, "delete_object", Bucket=bucket, Key=key, **condition)
            except MessageGone as exc:
                if _replaced(exc):
                    changed.add(batch[0])
            return set()
        objects = []
        for key in batch:
            identifier = {"Key": self._keys.prefix + key}
            if etags.get(key):
                identifier["ETag"] = etags[key]
            objects.append(identifier)
        response = await self._pool.call(
            client,
            "delete_objects",
            Bucket=self._location.bucket,
            Delete={"Objects": objects, "Quiet": True},
        )
        refused = set()
        for error in response.get("Errors", ()):
            full_key, code = str(error.get("Key", "")), str(error.get("Code", ""))
            if code in GONE_CODES or not full_key.startswith(self._keys.prefix):
                continue
            if code in CHANGED_CODES:
                changed.add(full_key[len(self._keys.prefix) :])
                continue
            refused.add(full_key[len(self._keys.prefix) :])
            codes.add(code)
        return refused

    async def _copy_to_trash(
        self, keys: list[str], etags: Mapping[str, str], changed: set[str], gone: set[str]
    ) -> tuple[set[str], StoreError | None]:
        """Copy each message (at its listed ETag) to the trash; returns the keys copied, to
        be deleted, and the first error. A message already gone goes into ``gone`` (nothing
        to keep, nothing to delete); one replaced since its listing into ``changed`` (kept);
        every other key not returned was not copied and must stay."""
        getter = await self._pool.getter(self._location)
        bucket = self._location.bucket
        copied: set[str] = set()
        errors: list[StoreError] = []
        limiter = trio.CapacityLimiter(TRASH_COPIES)
        shared = self._pool.trash_copies

        async def copy(key: str) -> None:
            async with limiter, shared:
                if errors:
                    return  # S3 is failing: stop copying, keep the rest
                source, target = self._keys.object_key(key), self._keys.trash_key(key)
                try:
                    await getter.copy(bucket, target, source, if_match=etags.get(key) or None)
                except MessageGone as exc:
                    (changed if _replaced(exc) else gone).add(key)
                    return
                except StoreError as exc:
                    errors.append(exc)
                    return
                copied.add(key)

        async with trio.open_nursery() as nursery:
            for key in keys:
                nursery.start_soon(copy, key)
        return copied, errors[0] if errors else None
