"""A maildrop lock that holds across replicas, on S3 conditional writes.

The lock of a mailbox is one object, ``<lock-prefix><digest of bucket/prefix>`` in the
mailbox's bucket (a sub-folder key, so never listed as a message). Taking it is a PutObject
with ``If-None-Match: *``; a second taker gets 412. The holder renews it (PutObject with
``If-Match`` on its ETag) every third of the lease; a lock whose LastModified is older than its
lease, by the S3 server's own clock (the response Date), is taken over with ``If-Match`` on the
stale ETag, so a crashed replica never locks a mailbox for longer than the lease. Release is a
DeleteObject with ``If-Match``. 409 ConditionalRequestConflict is retried, as AWS documents.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from pop3srv.storage.base import MessageGone, S3Location, StoreError, StoreUnavailable
from pop3srv.storage.pool import S3Pool

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 3


@dataclass
class S3Lease:
    """A held lock; ``lost`` once a renewal found it taken over."""

    location: S3Location
    key: str
    etag: str
    on_lost: Callable[[], None] = field(repr=False)
    renewed_at: float = 0.0
    lost: bool = False
    released: bool = False
    #: renewal and release of one lease never overlap (each changes the ETag)
    busy: trio.Lock = field(default_factory=trio.Lock, repr=False)


class S3Locks:
    """Takes, renews and releases mailbox locks; ``run`` renews them in the background."""

    def __init__(self, pool: S3Pool, *, lease: float = 60.0, prefix: str = ".pop3srv-locks/"):
        self.pool = pool
        self.lease = lease
        self.prefix = prefix
        self._held: list[S3Lease] = []

    def lock_key(self, location: S3Location) -> str:
        folder = location.prefix.strip("/")  # "inbox" and "inbox/" are the same mailbox
        digest = hashlib.sha256(f"{location.bucket}/{folder}".encode()).hexdigest()
        return f"{self.prefix}{digest[:40]}"

    async def acquire(
        self, location: S3Location, owner: str, on_lost: Callable[[], None]
    ) -> S3Lease | None:
        """The lease, or None when another live session holds the mailbox."""
        client = await self.pool.client(location)
        key = self.lock_key(location)
        body = json.dumps({"owner": owner, "lease": self.lease}).encode()
        etag = await self._put(client, location, key, body, IfNoneMatch="*")
        if etag is None:
            etag = await self._take_over_if_stale(client, location, key, body)
        if etag is None:
            return None
        lease = S3Lease(location, key, etag, on_lost, renewed_at=trio.current_time())
        self._held.append(lease)
        return lease

    async def release(self, lease: S3Lease) -> None:
        async with lease.busy:
            lease.released = True
            if lease in self._held:
                self._held.remove(lease)
            if lease.lost:
                return
            try:
                client = await self.pool.client(lease.location)
                await self.pool.call(
                    client,
                    "delete_object",
                    Bucket=lease.location.bucket,
                    Key=lease.key,
                    IfMatch=lease.etag,
                )
            except StoreError as exc:  # taken over already, or S3 down: the lease runs out
                log.info("maildrop lock not released: %s", exc)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Renew every held lease each third of the lease time, all at once, until
        cancelled; a failure affects only its own lease, never this task."""
        task_status.started()
        while True:
            await trio.sleep(self.lease / 3)
            async with trio.open_nursery() as nursery:
                for lease in list(self._held):
                    nursery.start_soon(self.renew, lease)

    async def renew(self, lease: S3Lease) -> None:
        """Renew one lease now; a lease that may have run out, or was taken over, is lost."""
        async with lease.busy:
            if lease.released or lease.lost:
                return
            etag = await self._try_renew(lease)
            if etag is not None:
                lease.etag, lease.renewed_at = etag, trio.current_time()
            elif self._may_have_expired(lease):
                self._lose(lease)

    async def _try_renew(self, lease: S3Lease) -> str | None:
        """The new ETag; None after a failure (logged)."""
        body = json.dumps({"owner": "renewed", "lease": self.lease}).encode()
        try:
            client = await self.pool.client(lease.location)
            etag = await self._put(client, lease.location, lease.key, body, IfMatch=lease.etag)
        except StoreUnavailable as exc:
            log.warning("maildrop lock renewal failed: %s", exc)
            return None
        except Exception:  # denied credentials, a bug: this lease only
            log.exception("maildrop lock renewal failed")
            lease.renewed_at = -float("inf")  # cannot be trusted any more
            return None
        if etag is None:  # 412: taken over
            lease.renewed_at = -float("inf")
        return etag

    def _may_have_expired(self, lease: S3Lease) -> bool:
        """Another replica may take over ``lease`` seconds after the last renewal; give up
        one renewal interval before that, so two sessions never hold the mailbox at once."""
        return trio.current_time() - lease.renewed_at >= self.lease - self.lease / 3

    def _lose(self, lease: S3Lease) -> None:
        log.warning("maildrop lock lost; ending its session without committing")
        lease.lost = True
        if lease in self._held:
            self._held.remove(lease)
        lease.on_lost()

    async def _put(
        self, client: Any, location: S3Location, key: str, body: bytes, **condition: str
    ) -> str | None:
        """The new ETag, or None when the condition failed (412)."""
        for _attempt in range(CONFLICT_RETRIES):
            try:
                response = await self.pool.call(
                    client,
                    "put_object",
                    Bucket=location.bucket,
                    Key=key,
                    Body=body,
                    Metadata={"lease": str(int(self.lease))},
                    **condition,
                )
            except MessageGone:  # 412 Precondition Failed
                return None
            except StoreUnavailable as exc:
                if "ConditionalRequestConflict" not in str(exc) and "409" not in str(exc):
                    raise
                await trio.sleep(0.05)
                continue
            return str(response["ETag"])
        raise StoreUnavailable("S3 lock: conditional requests kept conflicting")

    async def _take_over_if_stale(
        self, client: Any, location: S3Location, key: str, body: bytes
    ) -> str | None:
        try:
            head = await self.pool.call(client, "head_object", Bucket=location.bucket, Key=key)
        except MessageGone:  # released meanwhile: let the caller try a fresh put
            return await self._put(client, location, key, body, IfNoneMatch="*")
        lease = float(head.get("Metadata", {}).get("lease", self.lease))
        headers = head.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        now = email.utils.parsedate_to_datetime(headers["date"]) if "date" in headers else None
        if now is None or (now - head["LastModified"]).total_seconds() <= lease:
            return None
        log.info("taking over a maildrop lock whose lease ran out")
        return await self._put(client, location, key, body, IfMatch=str(head["ETag"]))
