"""stdlib poplib against pop3srv serving an S3 bucket on 127.0.0.1.

The 2,500-message tests run against SeaweedFS (the store tests already cover both servers, and
moto's listing of 2,500 keys costs a second per login); the small ones run on both servers.
"""

from __future__ import annotations

import hashlib
import poplib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer, start_server
from tests.corpus import BIG_NAME, expected_on_wire
from tests.s3.mailbox import MAILBOX_SIZE, Mailbox, load_mailbox
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


def _login(server: RunningServer) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.plain_port, timeout=60)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def _sample(server: RunningServer, name: str, labels: dict[str, str] | None = None) -> float:
    value = server.runtime.prometheus.get_sample_value(name, labels or {})
    return value or 0.0


@pytest.fixture
def corpus_mailbox(seaweedfs_mailbox: Mailbox) -> Mailbox:
    return seaweedfs_mailbox


@pytest.fixture
async def mailbox_server(
    nursery: trio.Nursery, tmp_path: Path, corpus_mailbox: Mailbox
) -> AsyncIterator[RunningServer]:
    env = corpus_mailbox.server.env(corpus_mailbox.bucket, "inbox")  # no final "/": a folder
    running = await start_server(nursery, tmp_path, **env)
    yield running
    running.shutdown.set()


async def test_stat_list_uidl_agree_on_a_2500_message_mailbox(
    mailbox_server: RunningServer, corpus_mailbox: Mailbox
) -> None:
    def run() -> tuple[tuple[int, int], list[bytes], list[bytes]]:
        client = _login(mailbox_server)
        stat = client.stat()
        _r, listing, _o = client.list()
        _r, uids, _o = client.uidl()
        client.quit()
        return stat, listing, uids

    (count, octets), listing, uids = await trio.to_thread.run_sync(run)
    order = corpus_mailbox.order
    assert count == MAILBOX_SIZE == len(listing) == len(uids)
    assert octets == sum(corpus_mailbox.sizes.values())
    assert listing == [f"{n} {corpus_mailbox.sizes[k]}".encode() for n, k in enumerate(order, 1)]
    assert uids == [f"{n} {key}".encode() for n, key in enumerate(order, 1)]


async def test_retr_is_byte_exact_for_the_corpus(
    mailbox_server: RunningServer, corpus_mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poplib, "_MAXLINE", 100_000)
    numbers = {key: corpus_mailbox.order.index(key) + 1 for key in corpus_mailbox.messages}

    def run() -> dict[str, str]:
        client = _login(mailbox_server)
        digests = {}
        for key, number in numbers.items():
            _r, lines, _o = client.retr(number)
            digests[key] = hashlib.sha256(b"".join(line + b"\r\n" for line in lines)).hexdigest()
        client.quit()
        return digests

    digests = await trio.to_thread.run_sync(run)
    for key, raw in corpus_mailbox.messages.items():
        assert digests[key] == hashlib.sha256(expected_on_wire(raw)).hexdigest(), key


async def test_top_of_the_40_mb_message_fetches_one_range(
    mailbox_server: RunningServer, corpus_mailbox: Mailbox
) -> None:
    number = corpus_mailbox.order.index(BIG_NAME) + 1

    def run() -> list[bytes]:
        client = _login(mailbox_server)
        _r, lines, _o = client.top(number, 0)
        client.quit()
        return lines

    lines = await trio.to_thread.run_sync(run)
    assert lines[-1] == b""
    assert lines[-2] == b"Subject: big attachment"
    # one 64 KiB range, read only as far as the header block needed
    assert 0 < _sample(mailbox_server, "s3_received_bytes_total") <= 65536
    get = {"operation": "get_object", "outcome": "ok"}
    assert _sample(mailbox_server, "s3_requests_total", get) == 1


async def test_many_logins_share_one_s3_client(
    s3_server: S3Server, bucket: str, nursery: trio.Nursery, tmp_path: Path
) -> None:
    s3_server.put(bucket, "inbox/one", b"Subject: one\r\n\r\nbody\r\n")
    running = await start_server(nursery, tmp_path, **s3_server.env(bucket, "inbox"))

    def run() -> None:
        for _ in range(20):
            client = _login(running)
            assert client.stat()[0] == 1
            client.quit()

    await trio.to_thread.run_sync(run)
    running.shutdown.set()
    pool = running.runtime.pool
    assert pool.clients_created == 1
    assert pool.hits == 20 - 1  # each login's listing (its first page checks access)
    assert _sample(running, "s3_pool_clients") == 1
    assert _sample(running, "s3_pool_clients_created_total") == 1


async def test_dele_1200_then_quit_leaves_exactly_the_rest(
    seaweedfs: S3Server, nursery: trio.Nursery, tmp_path: Path
) -> None:
    mailbox = load_mailbox(seaweedfs, MAILBOX_SIZE, corpus=False)
    running = await start_server(nursery, tmp_path, **seaweedfs.env(mailbox.bucket, "inbox/"))

    def run() -> tuple[bytes, tuple[int, int], list[bytes]]:
        client = _login(running)
        for number in range(1, 1201):
            client.dele(number)
        assert client.stat()[0] == MAILBOX_SIZE - 1200
        goodbye = client.quit()
        again = _login(running)
        stat = again.stat()
        _r, uids, _o = again.uidl()
        again.quit()
        return goodbye, stat, uids

    goodbye, (count, _octets), uids = await trio.to_thread.run_sync(run)
    running.shutdown.set()
    assert goodbye.startswith(b"+OK")
    rest = mailbox.order[1200:]
    assert count == len(rest) == 1300
    assert [line.split()[1].decode() for line in uids] == rest
    assert sorted(k for _t, k, _s in seaweedfs.listing(mailbox.bucket, "inbox/")) == sorted(rest)
    deletes = {"operation": "delete_objects", "outcome": "ok"}
    assert _sample(running, "s3_requests_total", deletes) == 2
    assert _sample(running, "pop3_messages_deleted_total") == 1200


async def _pass_reply(server: RunningServer) -> str:
    def run() -> str:
        client = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
        client.user(USER)
        with pytest.raises(poplib.error_proto) as info:
            client.pass_(PASSWORD)
        client.quit()
        return str(info.value)

    return await trio.to_thread.run_sync(run)


async def test_missing_bucket_fails_at_pass(
    s3_server: S3Server, nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_server(nursery, tmp_path, **s3_server.env("no-such-bucket-here"))
    assert "-ERR [SYS/PERM]" in await _pass_reply(running)
    running.shutdown.set()


async def test_bad_credentials_fail_at_pass(
    seaweedfs: S3Server, nursery: trio.Nursery, tmp_path: Path
) -> None:
    env = seaweedfs.env(seaweedfs.create_bucket())
    env["POP3_AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    running = await start_server(nursery, tmp_path, **env)
    reply = await _pass_reply(running)
    assert "-ERR [SYS/PERM]" in reply
    assert "not-the-secret" not in reply
    running.shutdown.set()
