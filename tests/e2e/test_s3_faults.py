"""S3 failures as a POP3 client sees them: a fault-injecting proxy sits between pop3srv and
SeaweedFS. Every failure is ``-ERR [SYS/TEMP]``, the session stays usable where RFC 1939 lets
it, and nothing is deleted that was not committed."""

from __future__ import annotations

import poplib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer
from tests.s3.mailbox import start_s3_pop3
from tests.s3.plugin import FAST_POOL
from tests.s3.proxy import FaultProxy
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

BODY = b"Subject: m\r\n\r\n" + b"line of a long enough message body\r\n" * 15_000  # 540 kB
KEYS = ("m1", "m2", "m3")


@dataclass
class Faulty:
    server: RunningServer
    proxy: FaultProxy
    s3: S3Server
    bucket: str

    def left(self) -> list[str]:
        return sorted(k.removeprefix("inbox/") for k in self.s3.keys(self.bucket, "inbox/"))

    def connect(self) -> poplib.POP3:
        return poplib.POP3("127.0.0.1", self.server.plain_port, timeout=30)

    def login(self) -> poplib.POP3:
        client = self.connect()
        client.user(USER)
        client.pass_(PASSWORD)
        return client


@pytest.fixture
async def faulty(
    nursery: trio.Nursery, tmp_path: Path, seaweedfs: S3Server, proxy: FaultProxy
) -> AsyncIterator[Faulty]:
    bucket = seaweedfs.create_bucket()
    for key in KEYS:
        seaweedfs.put(bucket, f"inbox/{key}", BODY)
        time.sleep(0.01)
    running = await start_s3_pop3(
        nursery,
        tmp_path,
        seaweedfs,
        bucket,
        endpoint_url=proxy.endpoint_url,
        pool_settings=FAST_POOL,
    )
    yield Faulty(running, proxy, seaweedfs, bucket)
    running.shutdown.set()


def _err(call: object, *args: object) -> str:
    with pytest.raises(poplib.error_proto) as info:
        call(*args)  # type: ignore[operator]
    return str(info.value)


@pytest.mark.parametrize("fault", ["503", "reset", "stall"])
async def test_listing_failure_at_pass_is_temporary_and_pass_can_be_retried(
    faulty: Faulty, fault: str
) -> None:
    def run() -> tuple[str, tuple[int, int]]:
        faulty.proxy.inject("list", fault)
        client = faulty.connect()
        client.user(USER)
        reply = _err(client.pass_, PASSWORD)
        faulty.proxy.clear()
        client.user(USER)
        client.pass_(PASSWORD)
        stat = client.stat()
        client.quit()
        return reply, stat

    reply, (count, _octets) = await trio.to_thread.run_sync(run)
    assert reply.startswith("b'-ERR [SYS/TEMP]")
    assert count == len(KEYS)


@pytest.mark.parametrize("fault", ["503", "reset", "stall"])
async def test_retr_and_top_failures_keep_the_session(faulty: Faulty, fault: str) -> None:
    def run() -> list[str]:
        client = faulty.login()
        faulty.proxy.inject("get", fault)
        replies = [_err(client.retr, 1)]
        if fault != "stall":  # one stall is enough: each costs the read timeout
            replies.append(_err(client.top, 2, 0))
        assert client.stat()[0] == len(KEYS)
        client.noop()
        faulty.proxy.clear()
        _r, lines, _o = client.retr(1)
        assert b"".join(line + b"\r\n" for line in lines) == BODY
        assert client.quit().startswith(b"+OK")
        return replies

    replies = await trio.to_thread.run_sync(run)
    assert all(reply.startswith("b'-ERR [SYS/TEMP]") for reply in replies), replies
    assert faulty.left() == list(KEYS)


async def test_body_cut_mid_retr_drops_the_connection_and_commits_nothing(
    faulty: Faulty,
) -> None:
    def run() -> None:
        client = faulty.login()
        client.dele(2)
        faulty.proxy.inject("get", "cut", cut_after=200_000)
        with pytest.raises((poplib.error_proto, OSError, EOFError)):
            client.retr(1)
        client.close()
        faulty.proxy.clear()
        again = faulty.login()  # the maildrop lock was released
        assert again.stat()[0] == len(KEYS)
        again.quit()

    await trio.to_thread.run_sync(run)
    assert faulty.left() == list(KEYS)


@pytest.mark.parametrize("fault", ["500", "reset", "stall"])
async def test_failed_delete_at_quit_keeps_every_message(faulty: Faulty, fault: str) -> None:
    def run() -> str:
        client = faulty.login()
        client.dele(1)
        client.dele(2)
        faulty.proxy.inject("delete", fault)
        return _err(client.quit)

    reply = await trio.to_thread.run_sync(run)
    assert reply == "b'-ERR [SYS/TEMP] some deleted messages not removed'"
    assert faulty.left() == list(KEYS)


async def test_partial_delete_at_quit_reports_and_keeps_the_failed(faulty: Faulty) -> None:
    def run() -> str:
        client = faulty.login()
        client.dele(1)
        client.dele(2)
        faulty.proxy.inject("delete", "partial", fail_key=lambda key: key.endswith("m2"))
        return _err(client.quit)

    reply = await trio.to_thread.run_sync(run)
    assert reply == "b'-ERR [SYS/TEMP] some deleted messages not removed'"
    assert faulty.left() == ["m2", "m3"]  # m1 committed, m2 refused by S3, m3 never marked
