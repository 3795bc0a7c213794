"""The cross-replica maildrop lock on real S3 servers (SeaweedFS and moto): one holder, release,
takeover after the lease, and a holder that loses its lease is told."""

from __future__ import annotations

import pytest
import trio

from pop3srv.storage import s3lock
from pop3srv.storage.base import S3Location, StoreDenied
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3lock import S3Locks
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


class _Asked(list[str]):
    """An ``on_wanted`` callback: records who asked, answers ``idle``."""

    def __init__(self, *, idle: bool) -> None:
        super().__init__()
        self.idle = idle

    def __call__(self, peer: str) -> bool:
        self.append(peer)
        return self.idle


def _never() -> None:
    raise AssertionError("lost a lease that should hold")


async def test_one_holder_then_release(s3_server: S3Server, bucket: str, pool: S3Pool) -> None:
    locks = S3Locks(pool, lease=60)
    location = s3_server.location(bucket, "inbox/")
    first = await locks.acquire(location, "s1", _never)
    assert first is not None
    assert await locks.acquire(location, "s2", _never) is None
    same_folder = s3_server.location(bucket, "inbox")
    assert await locks.acquire(same_folder, "s3", _never) is None
    other = await locks.acquire(s3_server.location(bucket, "other/"), "s4", _never)
    assert other is not None
    await locks.release(first)
    again = await locks.acquire(location, "s5", _never)
    assert again is not None
    assert all(key.startswith(".pop3srv-locks/") for key in s3_server.keys(bucket))


async def test_renewal_keeps_the_lease(s3_server: S3Server, bucket: str, pool: S3Pool) -> None:
    holder = S3Locks(pool, lease=1.5)
    other = S3Locks(pool, lease=1.5)
    location = s3_server.location(bucket)
    async with trio.open_nursery() as nursery:
        await nursery.start(holder.run)
        assert await holder.acquire(location, "a", _never) is not None
        await trio.sleep(3.5)  # more than two leases, renewed every 0.5 s
        assert await other.acquire(location, "b", _never) is None
        nursery.cancel_scope.cancel()


async def test_stale_lock_is_taken_over_and_the_old_holder_told(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    crashed = S3Locks(pool, lease=1)  # never renews: like a replica that died
    survivor = S3Locks(pool, lease=1)
    location = s3_server.location(bucket)
    lost: list[str] = []
    old = await crashed.acquire(location, "a", lambda: lost.append("a"))
    assert old is not None
    assert await survivor.acquire(location, "b", _never) is None
    await trio.sleep(2.5)  # the lease (by the S3 server's clock, seconds resolution) runs out
    assert await survivor.acquire(location, "b", _never) is not None
    await crashed.renew(old)
    assert lost == ["a"]
    assert old.lost


class _DeniedAfterFirstPut:
    """A pool whose credentials stop working after the lock was taken (an expired token)."""

    def __init__(self) -> None:
        self.puts = 0

    async def client(self, location: object) -> object:
        return object()

    async def call(self, client: object, operation: str, /, **params: object) -> object:
        self.puts += 1
        if self.puts == 1:
            return {"ETag": '"first"'}
        raise StoreDenied("S3 put_object failed: ExpiredToken (HTTP 400)")


async def test_a_denied_renewal_loses_that_lease_without_stopping_renewals(
    autojump_clock: object,
) -> None:
    locks = S3Locks(_DeniedAfterFirstPut(), lease=3)  # type: ignore[arg-type]
    lost: list[str] = []
    lease = await locks.acquire(S3Location(bucket="b"), "s1", lambda: lost.append("s1"))
    assert lease is not None
    async with trio.open_nursery() as nursery:
        await nursery.start(locks.run)
        await trio.sleep(10)  # several renewal rounds; run() must survive them
        assert lost == ["s1"]
        nursery.cancel_scope.cancel()


# --- takeover requests (lock-takeover): the holder's replica decides, the requester waits ----


async def test_idle_holder_yields_to_a_takeover_request(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    holder, requester = S3Locks(pool, lease=60), S3Locks(pool, lease=60)
    location = s3_server.location(bucket, "wanted/")
    asked: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(holder.run)

        def idle(peer: str) -> bool:  # the session is idle: it ends, releasing its lock
            asked.append(peer)
            assert held is not None
            nursery.start_soon(holder.release, held)
            return True

        held = await holder.acquire(location, "old", _never, on_wanted=idle)
        assert held is not None
        assert await requester.acquire(location, "x", _never) is None  # no request: refused
        start = trio.current_time()
        lease = await requester.acquire(location, "new", _never, requester="192.0.2.9:1")
        assert lease is not None
        assert trio.current_time() - start < 4
        assert asked == ["192.0.2.9:1"]
        assert held.yielded
        await requester.release(lease)
        nursery.cancel_scope.cancel()
    assert not [key for key in s3_server.keys(bucket) if key.startswith(".pop3srv-locks/")]


async def test_busy_holder_keeps_its_lock(s3_server: S3Server, bucket: str, pool: S3Pool) -> None:
    holder, requester = S3Locks(pool, lease=60), S3Locks(pool, lease=60)
    location = s3_server.location(bucket, "busy/")
    asked = _Asked(idle=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(holder.run)
        held = await holder.acquire(location, "old", _never, on_wanted=asked)
        assert held is not None
        heads = pool.metrics.s3_requests_total.labels("head_object", "ok")
        before, started = heads._value.get(), trio.current_time()
        assert await requester.acquire(location, "new", _never, requester="b:1") is None
        assert asked  # asked at least once, refused each time
        # a HEAD per poll of the requester (each 0.25 s), and per look of the holder (each
        # second), whose refusal clears the mark: the next poll marks again, from a new HEAD
        polls = (trio.current_time() - started) / s3lock.WANT_POLL
        watches = (trio.current_time() - started) / s3lock.WATCH_INTERVAL
        assert heads._value.get() - before <= polls + 2 * watches + 3
        await holder.renew(held)  # the holder's lease is intact: renewal works
        assert not held.lost and not held.yielded
        nursery.cancel_scope.cancel()


async def test_marks_do_not_keep_a_dead_holder_alive(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    crashed = S3Locks(pool, lease=1)  # never renews nor watches: its replica died
    requester = S3Locks(pool, lease=1)
    location = s3_server.location(bucket, "dead/")
    assert await crashed.acquire(location, "old", lambda: None, on_wanted=lambda p: True)
    # the requester marks the lock again and again; the lease still runs out by the old time
    lease = await requester.acquire(location, "new", _never, requester="b:1")
    assert lease is not None


async def test_a_renewal_that_meets_a_mark_answers_it(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    holder, requester = S3Locks(pool, lease=60), S3Locks(pool, lease=60)
    location = s3_server.location(bucket, "renew-mark/")
    asked = _Asked(idle=False)
    refused: list[object] = []

    async def ask() -> None:
        refused.append(await requester.acquire(location, "new", _never, requester="b:1"))

    held = await holder.acquire(location, "old", _never, on_wanted=asked)
    assert held is not None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask)
        await trio.sleep(1)  # marked, and nobody watched (no run): the next renewal learns of it
        await holder.renew(held)  # 412 on the mark: answered (busy), the lock re-asserted
        assert asked == ["b:1"]
    assert refused == [None]  # the requester gave up
    await holder.renew(held)  # and renewals work again (its last mark answered without asking)
    await holder.renew(held)
    assert asked == ["b:1"]
    assert not held.lost and not held.yielded


async def test_a_mark_left_by_a_login_that_gave_up_does_not_end_an_idle_session(
    s3_server: S3Server, bucket: str, pool: S3Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A login marks the lock while the session is busy and gives up; the session turns idle
    before its replica looks again: the mark is past its ``wanted-until`` and is not obeyed
    (before, the idle session was ended for a login that had already been refused)."""
    monkeypatch.setattr(s3lock, "WANT_WAIT", 2.0)  # wanted until one second after asking
    holder, requester = S3Locks(pool, lease=60), S3Locks(pool, lease=60)
    location = s3_server.location(bucket, "gave-up/")
    asked = _Asked(idle=True)
    held = await holder.acquire(location, "old", _never, on_wanted=asked)
    assert held is not None
    assert await requester.acquire(location, "new", _never, requester="b:1") is None
    await trio.sleep(1.5)  # past wanted-until by the S3 server's clock (one-second Date)
    await holder.watch(held)
    assert asked == []
    assert not held.yielded
    await holder.renew(held)  # the lock is the holder's as before
    assert not held.lost and not held.yielded
