"""A maildrop lease proves ownership only if no other holder can ever present its ETag: S3's
ETag is the MD5 of the content, so every write of a lock object must be unique. And a QUIT
commits only after ``S3Locks.confirm`` has proved, with S3, that the lease is still held."""

from __future__ import annotations

import trio

from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3lock import S3Locks
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


def _never() -> None:
    raise AssertionError("lost a lease that should hold")


async def test_a_holder_whose_lease_was_taken_over_cannot_renew_or_confirm_it(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    frozen = S3Locks(pool, lease=1)  # a replica stopped (SIGSTOP) while holding the mailbox
    other = S3Locks(pool, lease=1)
    location = s3_server.location(bucket, "inbox/")
    lost: list[str] = []
    old = await frozen.acquire(location, "s1", lambda: lost.append("old"))
    assert old is not None
    await frozen.renew(old)  # renewed once before the freeze
    assert not old.lost
    await trio.sleep(2.5)  # the lease (by the S3 server's clock, seconds resolution) runs out
    new = await other.acquire(location, "s1", _never)  # the same session id on another replica
    assert new is not None
    await other.renew(new)  # the new holder renews: content like the frozen one's last write
    assert not await frozen.confirm(old), "a lease taken over still confirmed"
    assert old.lost and lost == ["old"]
    assert await other.confirm(new)  # the new holder's lease is untouched
    await other.release(new)


async def test_confirm_renews_a_held_lease_and_refuses_a_released_one(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    locks = S3Locks(pool, lease=60)
    location = s3_server.location(bucket, "inbox/")
    lease = await locks.acquire(location, "s1", _never)
    assert lease is not None
    etag = lease.etag
    assert await locks.confirm(lease)
    assert lease.etag != etag  # proved by a conditional write, not by memory
    await locks.release(lease)
    assert not await locks.confirm(lease)
    assert await locks.acquire(location, "s2", _never) is not None


async def test_a_lease_yielded_to_a_takeover_request_is_not_confirmed(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    """The idle session was ended for a login on another replica while its QUIT came in: the
    QUIT must not commit (the other login is about to get the mailbox)."""
    holder = S3Locks(pool, lease=60)
    other = S3Locks(pool, lease=60)
    location = s3_server.location(bucket, "inbox/")
    asked: list[str] = []

    def idle(peer: str) -> bool:
        asked.append(peer)
        return True

    lease = await holder.acquire(location, "s1", _never, on_wanted=idle)
    assert lease is not None
    got: list[object] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(holder.run)

        async def take() -> None:
            got.append(await other.acquire(location, "s9", _never, requester="192.0.2.1:5"))

        nursery.start_soon(take)
        while not lease.yielded:
            await trio.sleep(0.05)
        assert asked == ["192.0.2.1:5"]
        assert not await holder.confirm(lease)
        await holder.release(lease)  # the ended session lets go
        while not got:
            await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    assert got[0] is not None
