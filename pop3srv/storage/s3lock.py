"""A maildrop lock that holds across replicas, on S3 conditional writes.

The lock of a mailbox is one object, ``<lock-prefix><digest of bucket/prefix>`` in the
mailbox's bucket (a sub-folder key, so never listed as a message). Taking it is a PutObject
with ``If-None-Match: *``; a second taker gets 412. The holder renews it (PutObject with
``If-Match`` on its ETag) every third of the lease; a lock whose LastModified is older than its
lease, by the S3 server's own clock (the response Date), is taken over with ``If-Match`` on the
stale ETag, so a crashed replica never locks a mailbox for longer than the lease. Release is a
DeleteObject with ``If-Match``. 409 ConditionalRequestConflict is retried, as AWS documents.

Takeover requests: a login that finds the lock held (and not stale) may mark it wanted
(PutObject ``If-Match`` on its ETag, metadata ``wanted-by`` and the holder's last renewal time,
so marking never makes a dead holder look alive). The holder's replica looks at each lock it
holds every ``WATCH_INTERVAL`` (one HeadObject per held lock); on a mark it asks ``on_wanted``:
an idle session is ended and its lock deleted (``If-Match`` on the mark), a busy one re-asserts
the lock. The requester only ever takes the lock with ``If-None-Match`` (or a stale takeover),
never deletes it, and gives up after ``WANT_WAIT``. Its mark says until when it waits
(``wanted-until``, by the S3 server's clock): a mark found later is left by a login that gave
up, and is answered by re-asserting the lock, so a session that turns idle after that login was
refused is not ended for nobody.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import trio

from pop3srv.storage.base import MessageGone, S3Location, StoreError, StoreUnavailable
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3lease import S3Lease, mark_given_up, s3_now

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 3
WATCH_INTERVAL = 1.0  # how often a holder's replica looks for takeover requests
WANT_WAIT = 5.0  # how long a requester waits for the holder to let go
WANT_POLL = 0.25  # how often the requester tries to take the lock meanwhile


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
        self,
        location: S3Location,
        owner: str,
        on_lost: Callable[[], None],
        *,
        requester: str | None = None,
        on_wanted: Callable[[str], bool] | None = None,
    ) -> S3Lease | None:
        """The lease, or None when another live session holds the mailbox. With
        ``requester`` (the login's address) a live holder is asked to let go first."""
        client = await self.pool.client(location)
        key = self.lock_key(location)
        body = self._body(owner)
        etag = await self._put(client, location, key, body, IfNoneMatch="*")
        if etag is None:
            etag = await self._take_over_if_stale(client, location, key, body)
        if etag is None and requester is not None:
            etag = await self._ask_holder(client, location, key, body, requester)
        if etag is None:
            return None
        lease = S3Lease(location, key, etag, on_lost, on_wanted, trio.current_time())
        self._held.append(lease)
        return lease

    def _body(self, owner: str) -> bytes:
        """A lock object's content, unique to this write: S3's ETag is the MD5 of the content,
        so equal bodies (a renewal here, a renewal on the replica that took the lock over)
        would share an ETag and an ``If-Match`` of the old holder would pass."""
        nonce = secrets.token_hex(16)
        return json.dumps({"owner": owner, "lease": self.lease, "nonce": nonce}).encode()

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
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._every, self.lease / 3, self.renew)
            nursery.start_soon(self._every, WATCH_INTERVAL, self.watch)

    async def _every(self, interval: float, job: Callable[[S3Lease], Awaitable[None]]) -> None:
        while True:
            await trio.sleep(interval)
            async with trio.open_nursery() as nursery:
                for lease in list(self._held):
                    nursery.start_soon(job, lease)

    async def renew(self, lease: S3Lease) -> None:
        """Renew one lease now; a lease that may have run out, or was taken over, is lost."""
        async with lease.busy:
            if lease.released or lease.lost or lease.yielded:
                return
            outcome = await self._renew_once(lease)
            if outcome in ("conflict", "failed") or (
                outcome == "unavailable" and self._may_have_expired(lease)
            ):
                self._lose(lease)

    async def _renew_once(
        self, lease: S3Lease
    ) -> Literal["renewed", "marked", "conflict", "unavailable", "failed"]:
        """One renewal of ``lease`` (its ``busy`` held). ``renewed``: ETag and time noted;
        ``marked``: a takeover mark was answered (the lock is still this lease's, or was
        yielded: ``lease.yielded``); ``conflict``: 412, taken over; ``unavailable``: S3 failed
        for now (the lease may still hold); ``failed``: denied credentials or a bug, the lease
        cannot be trusted any more."""
        started = trio.current_time()
        try:
            client = await self.pool.client(lease.location)
            body = self._body("renewed")
            etag = await self._put(client, lease.location, lease.key, body, IfMatch=lease.etag)
        except StoreUnavailable as exc:
            log.warning("maildrop lock renewal failed: %s", exc)
            return "unavailable"
        except Exception:  # denied credentials, a bug: this lease only
            log.exception("maildrop lock renewal failed")
            return "failed"
        if etag is not None:
            lease.etag, lease.renewed_at = etag, started
            return "renewed"
        return "marked" if await self._answer_mark(lease) else "conflict"

    async def confirm(self, lease: S3Lease) -> bool:
        """Whether ``lease`` is still this session's, proved by renewing it now (a QUIT
        deletes only then): a lease released, lost, yielded to a takeover or taken over while
        this replica was frozen is not, and neither is one S3 cannot vouch for now."""
        async with lease.busy:
            for _attempt in range(CONFLICT_RETRIES):
                if lease.released or lease.lost or lease.yielded:
                    return False
                outcome = await self._renew_once(lease)
                if outcome != "marked":  # a mark answered: renew again to prove it
                    if outcome == "conflict":
                        self._lose(lease)
                    return outcome == "renewed"
        return False

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
        self, client: Any, location: S3Location, key: str, body: bytes, **condition: Any
    ) -> str | None:
        """The new ETag, or None when the condition failed (412)."""
        metadata = condition.pop("Metadata", None) or {"lease": str(int(self.lease))}
        for _attempt in range(CONFLICT_RETRIES):
            try:
                response = await self.pool.call(
                    client,
                    "put_object",
                    Bucket=location.bucket,
                    Key=key,
                    Body=body,
                    Metadata=metadata,
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

    async def watch(self, lease: S3Lease) -> None:
        """Look once whether a login elsewhere marked ``lease`` wanted, and answer it."""
        async with lease.busy:
            if lease.on_wanted is None or lease.released or lease.lost or lease.yielded:
                return
            await self._answer_mark(lease)

    async def _answer_mark(self, lease: S3Lease) -> bool:
        """The lock object changed: yield to a takeover request (idle session) or re-assert
        the lock (busy one); anything but a mark is left for renewal to judge. Whether the
        object holds a mark (the lock is still this lease's)."""
        try:
            client = await self.pool.client(lease.location)
            head = await self.pool.call(
                client, "head_object", Bucket=lease.location.bucket, Key=lease.key
            )
        except StoreError as exc:
            log.info("maildrop lock not checked: %s", exc)
            return False
        etag, metadata = str(head["ETag"]), head.get("Metadata", {})
        wanted_by = metadata.get("wanted-by")
        if etag == lease.etag or wanted_by is None or lease.on_wanted is None:
            return False
        if not mark_given_up(metadata, head) and lease.on_wanted(wanted_by):
            lease.etag, lease.yielded = etag, True  # release deletes the marked version
            return True
        body = self._body("reasserted")
        new = await self._put(client, lease.location, lease.key, body, IfMatch=etag)
        if new is not None:  # else marked again meanwhile: answered at the next look
            lease.etag, lease.renewed_at = new, trio.current_time()
        return True

    async def _ask_holder(
        self, client: Any, location: S3Location, key: str, body: bytes, requester: str
    ) -> str | None:
        """Mark the lock wanted by ``requester`` and wait for it; the ETag once taken."""
        until: float | None = None  # by the S3 server's clock, so replicas' clocks do not matter
        with trio.move_on_after(WANT_WAIT):
            while True:
                try:
                    head = await self.pool.call(
                        client, "head_object", Bucket=location.bucket, Key=key
                    )
                except MessageGone:
                    head = None
                if until is None and head is not None and (now := s3_now(head)) is not None:
                    until = now + WANT_WAIT - 1  # Date has one-second resolution: a second early
                if head is not None and "wanted-by" not in head.get("Metadata", {}):
                    await self._mark(client, location, key, head, requester, until=until)
                    head = None  # the mark changed its ETag
                etag = await self._put(client, location, key, body, IfNoneMatch="*")
                if etag is None:  # the HEAD just made tells whether the lease ran out
                    etag = await self._take_over_if_stale(client, location, key, body, head)
                if etag is not None:
                    return etag
                await trio.sleep(WANT_POLL)
        return None

    async def _mark(
        self,
        client: Any,
        location: S3Location,
        key: str,
        head: Any,
        requester: str,
        *,
        until: float | None,
    ) -> None:
        """Mark the lock wanted by ``requester`` until ``until`` (S3 time; None: no limit)."""
        metadata = head.get("Metadata", {})
        renewed = metadata.get("renewed") or str(int(head["LastModified"].timestamp()))
        mark = {"lease": metadata.get("lease", str(int(self.lease))), "renewed": renewed}
        mark["wanted-by"] = requester
        if until is not None:
            mark["wanted-until"] = str(int(until))
        body = self._body(f"wanted by {requester}")
        await self._put(client, location, key, body, IfMatch=str(head["ETag"]), Metadata=mark)

    async def _take_over_if_stale(
        self, client: Any, location: S3Location, key: str, body: bytes, head: Any = None
    ) -> str | None:
        """Take the lock if its lease ran out, judged by ``head`` (None: a HEAD now)."""
        try:
            if head is None:
                head = await self.pool.call(client, "head_object", Bucket=location.bucket, Key=key)
        except MessageGone:  # released meanwhile: let the caller try a fresh put
            return await self._put(client, location, key, body, IfNoneMatch="*")
        metadata = head.get("Metadata", {})
        lease = float(metadata.get("lease", self.lease))
        now = s3_now(head)
        renewed = float(metadata.get("renewed") or head["LastModified"].timestamp())
        if now is None or now - renewed <= lease:  # a mark keeps the holder's time
            return None
        log.info("taking over a maildrop lock whose lease ran out")
        return await self._put(client, location, key, body, IfMatch=str(head["ETag"]))
