"""The S3 store against real S3 servers on 127.0.0.1 (SeaweedFS and moto, same tests on both)."""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import aclosing

import pytest
import trio

from pop3srv.storage.base import (
    CHUNK_SIZE,
    SES_SETUP_NOTIFICATION,
    MessageGone,
    S3Credentials,
    StoreDenied,
)
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3 import S3Store
from pop3srv.storage.s3ranges import MAX_RANGES
from tests.corpus import BIG_NAME
from tests.s3.mailbox import MAILBOX_SIZE, Mailbox, filler
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


def requests(pool: S3Pool, operation: str, outcome: str = "ok") -> int:
    for metric in pool.metrics.s3_requests_total.collect():
        for sample in metric.samples:
            if sample.name == "s3_requests_total" and sample.labels == {
                "operation": operation,
                "outcome": outcome,
            }:
                return int(sample.value)
    return 0


def received(pool: S3Pool) -> int:
    return int(
        next(
            s.value
            for m in pool.metrics.s3_received_bytes_total.collect()
            for s in m.samples
            if s.name == "s3_received_bytes_total"
        )
    )


def _store(mailbox: Mailbox, pool: S3Pool) -> S3Store:
    return S3Store(mailbox.server.location(mailbox.bucket, mailbox.prefix), pool)


async def test_lists_2500_messages_across_pages_in_arrival_order(
    corpus_mailbox: Mailbox, pool: S3Pool
) -> None:
    store = _store(corpus_mailbox, pool)
    await store.check_access()
    listed = await store.list_messages()
    assert len(listed) == MAILBOX_SIZE
    assert [m.key for m in listed] == corpus_mailbox.order
    assert {m.key: m.size for m in listed} == corpus_mailbox.sizes
    assert listed == sorted(listed)
    # pages of 1,000: check_access asks for the first, the listing goes on from it, the rest
    # in key ranges side by side (s3ranges): at most one more request per range
    first = requests(pool, "list_objects_v2")
    assert 3 <= first <= 3 + MAX_RANGES
    assert len(await store.list_messages()) == MAILBOX_SIZE  # a later listing starts afresh
    assert requests(pool, "list_objects_v2") == 2 * first


async def test_ses_layout_keeps_only_messages_directly_under_the_prefix(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    for key, body in [
        (SES_SETUP_NOTIFICATION, b"setup"),
        (f"inbox/{SES_SETUP_NOTIFICATION}", b"setup"),
        ("inbox/", b""),
        ("inbox/sub/", b""),
        ("inbox/sub/nested", b"nested"),
        ("inboxfoo", b"not in the inbox folder"),
        ("inbox/msg-a", b"a"),
        ("inbox/msg-b", b"bb"),
        ("rootmsg", b"root"),
        ("other/x", b"x"),
    ]:
        s3_server.put(bucket, key, body)
    for prefix in ("inbox", "inbox/"):  # the original's rule: a prefix is a folder
        store = S3Store(s3_server.location(bucket, prefix), pool)
        assert store.prefix == "inbox/"
        listed = await store.list_messages()
        assert sorted((m.key, m.size) for m in listed) == [("msg-a", 1), ("msg-b", 2)]
    root = await S3Store(s3_server.location(bucket, ""), pool).list_messages()
    assert sorted(m.key for m in root) == ["inboxfoo", "rootmsg"]


async def test_order_is_last_modified_then_key(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    s3_server.put(bucket, "box/zzz-first", b"1")
    await trio.sleep(1.1)  # both servers keep LastModified in whole seconds
    for key in ("box/ccc", "box/bbb", "box/aaa"):
        s3_server.put(bucket, key, b"2")
    listed = await S3Store(s3_server.location(bucket, "box"), pool).list_messages()
    keys = [m.key for m in listed]
    assert keys[0] == "zzz-first"  # earlier LastModified beats a smaller key
    raw = sorted(s3_server.listing(bucket, "box/"))
    assert keys == [key for _, key, _ in raw]
    assert [m.arrived for m in listed] == [when for when, _, _ in raw]
    if raw[1][0] == raw[3][0]:  # uploaded within the same second: the key breaks the tie
        assert keys[1:] == ["aaa", "bbb", "ccc"]


async def test_retr_streams_the_corpus_byte_exact_in_bounded_chunks(
    corpus_mailbox: Mailbox, pool: S3Pool
) -> None:
    store = _store(corpus_mailbox, pool)
    for key, raw in corpus_mailbox.messages.items():
        digest, total, largest = hashlib.sha256(), 0, 0
        async for chunk in store.stream(key):
            digest.update(chunk)
            total += len(chunk)
            largest = max(largest, len(chunk))
        assert total == len(raw), key
        assert digest.hexdigest() == hashlib.sha256(raw).hexdigest(), key
        assert largest <= CHUNK_SIZE
    assert requests(pool, "get_object") == len(corpus_mailbox.messages)
    assert received(pool) == sum(len(raw) for raw in corpus_mailbox.messages.values())
    assert pool.open_bodies == 0


async def test_top_fetches_a_range_first_and_widens_only_while_read(
    corpus_mailbox: Mailbox, pool: S3Pool
) -> None:
    store = _store(corpus_mailbox, pool)
    big = corpus_mailbox.messages[BIG_NAME]
    head = b""
    async with aclosing(store.stream(BIG_NAME, first_chunk=65536)) as chunks:
        while len(head) < 65536:  # the first range, in the pieces it arrived in
            head += await anext(chunks)
    assert head == big[:65536]
    assert (requests(pool, "get_object"), received(pool)) == (1, 65536)

    seen = b""
    async with aclosing(store.stream(BIG_NAME, first_chunk=65536)) as chunks:
        async for chunk in chunks:
            seen += chunk
            if len(seen) >= 300 * 1024:
                break
    assert seen == big[: len(seen)]
    # 64 KiB, then 128 KiB, then 256 KiB: three more ranged GETs, nothing beyond them (the
    # last one is read only as far as the reader went, then its connection is closed)
    assert requests(pool, "get_object") == 1 + 3
    assert 65536 + (64 + 128) * 1024 < received(pool) <= 65536 + (64 + 128 + 256) * 1024
    assert pool.open_bodies == 0


async def test_top_widening_reads_whole_messages_byte_exact(
    corpus_mailbox: Mailbox, pool: S3Pool
) -> None:
    store = _store(corpus_mailbox, pool)
    raw = corpus_mailbox.messages["long-lines"]
    assert b"".join([c async for c in store.stream("long-lines", first_chunk=100)]) == raw
    assert len(raw) == 6262
    assert requests(pool, "get_object") == 6  # ranges of 100, 200, ... 3,200 bytes
    digest = hashlib.sha256()
    async for chunk in store.stream(BIG_NAME, first_chunk=65536):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(corpus_mailbox.messages[BIG_NAME]).hexdigest()


async def test_top_of_an_empty_object_yields_nothing(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    s3_server.put(bucket, "box/empty", b"")
    store = S3Store(s3_server.location(bucket, "box/"), pool)
    assert [m.size for m in await store.list_messages()] == [0]
    assert [c async for c in store.stream("empty", first_chunk=65536)] == []
    assert [c async for c in store.stream("empty")] == []


async def test_missing_message_is_gone(s3_server: S3Server, bucket: str, pool: S3Pool) -> None:
    store = S3Store(s3_server.location(bucket, "box/"), pool)
    for first_chunk in (None, 65536):
        with pytest.raises(MessageGone):
            async for _ in store.stream("nope", first_chunk=first_chunk):
                pass
    with pytest.raises(MessageGone):
        async for _ in store.stream("sub/escape"):
            pass


async def test_cancelled_retr_closes_the_body_and_leaves_no_thread(
    corpus_mailbox: Mailbox, pool: S3Pool
) -> None:
    store = _store(corpus_mailbox, pool)
    threads_before = threading.active_count()
    first = trio.Event()

    async def slow_reader() -> None:
        async with aclosing(store.stream(BIG_NAME)) as chunks:
            async for _chunk in chunks:
                first.set()
                await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow_reader)
        await first.wait()
        assert pool.open_bodies == 1
        nursery.cancel_scope.cancel()
    assert pool.open_bodies == 0
    assert pool.limiter.borrowed_tokens == 0
    # a reader cancelled while a chunk is being read waits for its thread, then closes
    with trio.move_on_after(0.005):
        async for _ in store.stream(BIG_NAME):
            pass
    assert pool.open_bodies == 0
    assert pool.limiter.borrowed_tokens == 0
    await trio.sleep(0.1)
    assert threading.active_count() <= threads_before + pool.settings.threads


async def test_delete_in_batches_of_1000(s3_server: S3Server, bucket: str, pool: S3Pool) -> None:
    s3_server.bulk_put(bucket, [(f"box/{k}", v) for k, v in filler(1205)])
    store = S3Store(s3_server.location(bucket, "box/"), pool)
    doomed = [k for k, _ in filler(1200)]
    result = await store.delete([*doomed, "already-gone"])
    assert result.deleted == (*doomed, "already-gone")
    assert result.failed == ()
    assert requests(pool, "delete_objects") == 2
    left = await store.list_messages()
    assert sorted(m.key for m in left) == [k for k, _ in filler(5, start=1200)]


async def test_keys_xml_cannot_carry_are_deleted_on_their_own(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    odd = ["ctl\x1b[31mred", "cr\rkey"]  # an escape; a CR that XML would read as LF
    for key in ["a", *odd, "b"]:
        s3_server.put(bucket, f"box/{key}", b"Subject: x\r\n\r\nbody\r\n")
    store = S3Store(s3_server.location(bucket, "box/"), pool)
    assert sorted(m.key for m in await store.list_messages()) == sorted(["a", *odd, "b"])
    result = await store.delete(["a", *odd, "b"])
    assert (result.deleted, result.failed) == (("a", *odd, "b"), ())
    assert await store.list_messages() == []
    assert (requests(pool, "delete_objects"), requests(pool, "delete_object")) == (1, 2)


async def test_trash_mode_copies_before_deleting(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    for key in ("a", "b", "c"):
        s3_server.put(bucket, f"inbox/{key}", f"message {key}".encode())
    store = S3Store(s3_server.location(bucket, "inbox"), pool, trash_prefix="inbox/.trash")
    result = await store.delete(["a", "b", "gone"])
    assert result.deleted == ("a", "b", "gone")
    assert result.failed == ()
    assert store.trash_key("a") == "inbox/.trash/inbox/a"
    assert s3_server.get(bucket, "inbox/.trash/inbox/a") == b"message a"
    assert s3_server.get(bucket, "inbox/.trash/inbox/b") == b"message b"
    assert sorted(s3_server.keys(bucket)) == [
        "inbox/.trash/inbox/a",
        "inbox/.trash/inbox/b",
        "inbox/c",
    ]
    assert [m.key for m in await store.list_messages()] == ["c"]  # the trash is a sub-folder


async def test_trash_copies_take_no_worker_thread(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    """A big trash QUIT's copies run on the lean path: with every worker thread taken (other
    sessions' lock renewals, deletions) the copies still go out; only the DeleteObjects after
    them waits for a thread."""
    for key in ("a", "b", "c"):
        s3_server.put(bucket, f"inbox/{key}", f"message {key}".encode())
    store = S3Store(s3_server.location(bucket, "inbox"), pool, trash_prefix="trash")
    await store.list_messages()  # the pool's client exists before the threads are taken
    limiter = pool.limiter
    holders = [object() for _ in range(int(limiter.total_tokens))]
    for holder in holders:
        limiter.acquire_on_behalf_of_nowait(holder)
    done: list[object] = []

    async def quit_commit() -> None:
        done.append(await store.delete(["a", "b"]))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(quit_commit)
        with trio.fail_after(20):
            while len(await trio.to_thread.run_sync(s3_server.keys, bucket, "trash/")) < 2:
                await trio.sleep(0.05)
        await trio.sleep(0.1)
        assert not done  # the deletion itself waits for a worker thread
        for holder in holders:
            limiter.release_on_behalf_of(holder)
    assert s3_server.keys(bucket, "inbox/") == ["inbox/c"]


async def test_trash_copies_use_connections_of_their_own(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    """A big trash QUIT's copies never take the connections other sessions' RETRs wait for."""
    for key in ("a", "b", "c", "d"):
        s3_server.put(bucket, f"inbox/{key}", f"message {key}".encode())
    store = S3Store(s3_server.location(bucket, "inbox"), pool, trash_prefix="trash")
    await store.list_messages()
    getter = await pool.getter(store.location)
    before = {host: e.connections_opened for host, e in getter._endpoints.items()}
    assert (await store.delete(["a", "b", "c"])).deleted == ("a", "b", "c")
    assert {host: e.connections_opened for host, e in getter._endpoints.items()} == before
    assert sum(e.connections_opened for e in getter._copy_endpoints.values()) >= 1


async def test_missing_bucket_is_denied_at_check_access(s3_server: S3Server, pool: S3Pool) -> None:
    store = S3Store(s3_server.location("no-such-bucket-here"), pool)
    with pytest.raises(StoreDenied, match="NoSuchBucket"):
        await store.check_access()


@pytest.mark.parametrize(
    "credentials",
    [
        S3Credentials("AKIAPOP3SRVTESTS0001", "wrong-secret-value"),
        S3Credentials("AKIAUNKNOWNKEY000000", "whatever-secret"),
    ],
    ids=["wrong-secret", "unknown-key"],
)
async def test_bad_credentials_are_denied_at_check_access(
    seaweedfs: S3Server, pool: S3Pool, credentials: S3Credentials
) -> None:
    bucket = seaweedfs.create_bucket()
    store = S3Store(seaweedfs.location(bucket, credentials=credentials), pool)
    with pytest.raises(StoreDenied) as info:
        await store.check_access()
    assert credentials.secret_access_key not in str(info.value)
    assert requests(pool, "list_objects_v2", "denied") == 1


async def test_many_logins_with_the_same_credentials_share_one_client(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    start = time.perf_counter()
    for _ in range(20):
        store = S3Store(s3_server.location(bucket, "box"), pool)  # a fresh location each time
        await store.check_access()
        await store.list_messages()
    assert pool.clients_created == 1
    assert pool.hits == 20 - 1  # the listing goes on from check_access's page
    assert time.perf_counter() - start < 10


async def test_keys_with_spaces_plus_signs_and_non_ascii_list_and_read_back(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    """The lean listing asks for URL-encoded keys and the lean GET quotes them: both ways
    must give back exactly the stored key (SigV4 signs the path as sent)."""
    names = ["with space", "plus+sign", "pct%41", "ünïcödé", "semi;colon=eq&amp"]
    for name in names:
        s3_server.put(bucket, f"odd box/{name}", f"Subject: {name}\r\n\r\nx\r\n".encode())
    store = S3Store(s3_server.location(bucket, "odd box"), pool)
    await store.check_access()
    listed = sorted(m.key for m in await store.list_messages())
    assert listed == sorted(names)
    for name in names:
        body = b"".join([chunk async for chunk in store.stream(name)])
        assert body == f"Subject: {name}\r\n\r\nx\r\n".encode()


async def test_non_ses_names_past_the_first_page_are_listed_once_in_ranges(
    s3_server: S3Server, bucket: str, pool: S3Pool
) -> None:
    """A first page of 1,000 names starting "00" calls for all MAX_RANGES ranges; the names
    after it are not SES's (non-ASCII, upper case, a name equal to a cut point, a sub-folder):
    the real server's listing in ranges is the whole mailbox, each message once."""
    first = [f"00{n:04d}" for n in range(1000)]
    odd = ["0", "8g", "g0", "Zed", "~tilde", "ü-mail", "€uro", "vvvv", "m-1", "m-2"]
    s3_server.bulk_put(bucket, ((f"box/{name}", b"x") for name in [*first, *odd]))
    s3_server.put(bucket, "box/sub/nested", b"not a message")
    listed = await S3Store(s3_server.location(bucket, "box"), pool).list_messages()
    keys = [m.key for m in listed]
    assert len(keys) == len(set(keys))
    assert set(keys) == {*first, *odd}
    assert requests(pool, "list_objects_v2") >= 1 + MAX_RANGES  # the ranges were used
