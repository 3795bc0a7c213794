"""The S3 store behind a fault-injecting proxy: every failure becomes a store error, nothing is
deleted that S3 did not confirm, and transient faults are retried by the client config.

The proxy is in front of SeaweedFS, which checks the SigV4 signature of every forwarded request.
"""

from __future__ import annotations

import time
from contextlib import aclosing

import pytest

from pop3srv.storage.base import StoreDenied, StoreError, StoreUnavailable
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3 import S3Store
from tests.s3.proxy import FaultProxy
from tests.s3.servers import S3Server
from tests.storage.test_s3_store import requests

pytest_plugins = ("tests.s3.plugin",)

BODY = b"Subject: x\r\n\r\n" + b"0123456789abcdef" * 32768  # 512 KiB


def _setup(server: S3Server, proxy: FaultProxy, pool: S3Pool, **kw: str) -> S3Store:
    """Three 1 MiB messages a, b, c in a new bucket, read through the proxy."""
    bucket = server.create_bucket()
    for key in ("a", "b", "c"):
        server.put(bucket, f"box/{key}", BODY)
    return S3Store(
        server.location(bucket, "box", endpoint_url=proxy.endpoint_url),
        pool,
        **kw,  # type: ignore[arg-type]
    )


def _left(server: S3Server, store: S3Store) -> list[str]:
    bucket = store.location.bucket
    return sorted(key.removeprefix("box/") for key in server.keys(bucket, "box/"))


@pytest.mark.parametrize("fault", ["500", "503", "slowdown", "reset", "stall"])
async def test_list_faults_are_unavailable(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool, fault: str
) -> None:
    store = _setup(seaweedfs, proxy, fast_pool)
    proxy.inject("list", fault)
    start = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        await store.check_access()
    assert time.monotonic() - start < 5
    assert "http" not in str(info.value)
    assert requests(fast_pool, "list_objects_v2", "unavailable") == 1
    proxy.clear()
    if fault != "slowdown":  # after throttling, adaptive mode slows this client down for a while
        assert [m.key for m in await store.list_messages()] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("fault", "code"), [("denied", "AccessDenied"), ("nosuchbucket", "NoSuchBucket")]
)
async def test_refusals_are_denied(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool, fault: str, code: str
) -> None:
    store = _setup(seaweedfs, proxy, fast_pool)
    proxy.inject("list", fault)
    with pytest.raises(StoreDenied, match=code):
        await store.check_access()


async def test_a_transient_fault_is_retried(
    seaweedfs: S3Server, proxy: FaultProxy, pool: S3Pool
) -> None:
    store = _setup(seaweedfs, proxy, pool)
    proxy.inject("list", "503", times=1)
    assert len(await store.list_messages()) == 3
    assert (proxy.faulted["list"], proxy.seen["list"]) == (1, 2)


@pytest.mark.parametrize("fault", ["slowdown", "500", "reset"])
async def test_a_transient_get_fault_is_retried_and_a_denial_is_not(
    seaweedfs: S3Server, proxy: FaultProxy, pool: S3Pool, fault: str
) -> None:
    store = _setup(seaweedfs, proxy, pool)
    proxy.inject("get", fault, times=1)
    assert b"".join([chunk async for chunk in store.stream("a")]) == BODY
    assert (proxy.faulted["get"], proxy.seen["get"]) == (1, 2)
    proxy.inject("get", "denied", times=1)
    with pytest.raises(StoreDenied):
        await anext(store.stream("b"))
    assert (proxy.faulted["get"], proxy.seen["get"]) == (2, 3)  # no second attempt
    assert pool.open_bodies == 0


@pytest.mark.parametrize("fault", ["503", "reset", "stall"])
async def test_get_faults_are_unavailable_before_any_data(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool, fault: str
) -> None:
    store = _setup(seaweedfs, proxy, fast_pool)
    proxy.inject("get", fault)
    for first_chunk in (None, 65536) if fault != "stall" else (65536,):
        with pytest.raises(StoreUnavailable):
            async with aclosing(store.stream("a", first_chunk=first_chunk)) as chunks:
                await anext(chunks)
    assert fast_pool.open_bodies == 0
    proxy.clear()
    assert b"".join([c async for c in store.stream("a")]) == BODY


async def test_a_body_cut_short_fails_mid_stream(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool
) -> None:
    store = _setup(seaweedfs, proxy, fast_pool)
    proxy.inject("get", "cut", cut_after=300_000)
    received = b""
    with pytest.raises(StoreUnavailable):
        async for chunk in store.stream("a"):
            received += chunk
    assert 0 < len(received) < len(BODY)
    assert BODY.startswith(received)
    assert fast_pool.open_bodies == 0


async def test_failed_delete_removes_nothing(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool
) -> None:
    store = _setup(seaweedfs, proxy, fast_pool)
    for fault in ("500", "reset", "denied"):
        proxy.inject("delete", fault)
        with pytest.raises(StoreError):
            await store.delete(["a", "b"])
        assert _left(seaweedfs, store) == ["a", "b", "c"]


async def test_partial_delete_reports_the_keys_that_stay(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool
) -> None:
    store = _setup(seaweedfs, proxy, fast_pool)
    proxy.inject("delete", "partial", fail_key=lambda key: key.endswith("/b"))
    result = await store.delete(["a", "b"])
    assert result.deleted == ("a",)
    assert result.failed == ("b",)
    assert _left(seaweedfs, store) == ["b", "c"]


async def test_a_failing_second_batch_keeps_its_keys(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool
) -> None:
    bucket = seaweedfs.create_bucket()
    for key in ("a", "b", "c", "d", "e"):
        seaweedfs.put(bucket, f"box/{key}", b"x")
    store = S3Store(
        seaweedfs.location(bucket, "box", endpoint_url=proxy.endpoint_url),
        fast_pool,
        delete_batch=2,
    )
    proxy.inject("delete", "503", after=1)
    result = await store.delete(["a", "b", "c", "d"])
    assert result.deleted == ("a", "b")
    assert result.failed == ("c", "d")
    assert proxy.seen["delete"] == 2  # the third batch is not attempted
    assert _left(seaweedfs, store) == ["c", "d", "e"]


async def test_trash_copy_failure_deletes_nothing(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool
) -> None:
    store = _setup(seaweedfs, proxy, fast_pool, trash_prefix="trash")
    proxy.inject("copy", "500", after=1)
    result = await store.delete(["a", "b", "c"])
    copied = [key for key in ("a", "b", "c") if key in result.deleted]
    assert len(copied) <= 1
    assert set(result.failed) == {"a", "b", "c"} - set(copied)
    kept = set(_left(seaweedfs, store))
    assert kept == set(result.failed)
    proxy.inject("copy", "500")
    with pytest.raises(StoreUnavailable):
        await store.delete(["b", "c"])
    assert proxy.seen["delete"] == len(copied) and not set(result.failed) - kept


async def test_trash_copy_answered_200_with_an_error_deletes_nothing(
    seaweedfs: S3Server, proxy: FaultProxy, fast_pool: S3Pool
) -> None:
    """S3 may fail a CopyObject after sending ``200 OK``, the error in the body: that copy
    failed, so its message is not deleted (the others are moved)."""
    store = _setup(seaweedfs, proxy, fast_pool, trash_prefix="trash")
    proxy.inject("copy", "error200", keys=lambda key: key.endswith("/b"))
    result = await store.delete(["a", "b", "c"])
    assert (result.deleted, result.failed) == (("a", "c"), ("b",))
    assert _left(seaweedfs, store) == ["b"]
    bucket = store.location.bucket
    assert seaweedfs.keys(bucket, "trash/") == ["trash/box/a", "trash/box/c"]
