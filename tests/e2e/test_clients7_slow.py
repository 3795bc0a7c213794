"""A big message over a slow link to S3 (round 7, docs/notes/clients-7.md).

S3 sits behind a proxy that returns its bytes at 4 MiB/s (tests/e2e/slowlink.py), and the
mailbox holds a 12 MiB message: a RETR takes ~3 s. pop3srv relays the object as it
arrives, so a client never waits longer than a moment for its next bytes. The clients here
are set to give up after 2 s of silence, far stricter than any client's default (Ruby
Net::POP3 60 s, Perl Net::POP3 120 s, mpop 180 s, getmail 180 s, fetchmail 300 s): a server
that read the whole object before answering would leave them ~3 s without a byte and fail.
"""

from __future__ import annotations

import json
import poplib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD
from tests.e2e import test_clients_mpop as mpop
from tests.e2e.clients import client_env, maildir_messages, make_maildir, run_client, write_private
from tests.e2e.process import ServerProcess, s3_mailbox, spawn_logging_server
from tests.e2e.slowlink import SlowLink
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

RATE = 4 << 20
IDLE_LIMIT = 2  # seconds a client here waits for bytes
BIG = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * (12 * 1024)
LOGIN = "slow"


@dataclass(frozen=True)
class Slow:
    server: ServerProcess


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory, seaweedfs: S3Server) -> Iterator[Slow]:
    tmp = tmp_path_factory.mktemp("slow7")
    bucket = seaweedfs.create_bucket("slow7")
    seaweedfs.put(bucket, "in/big", BIG)
    with SlowLink(seaweedfs.host_port, RATE) as link:
        mailbox = s3_mailbox(seaweedfs, bucket, "in/", link.endpoint_url)
        process = spawn_logging_server(
            tmp,
            POP3_MAILBOXES=json.dumps({LOGIN: mailbox}),
            POP3_USERS=json.dumps({LOGIN: {"password": PASSWORD, "mailbox": LOGIN}}),
        )
        try:
            yield Slow(process)
        finally:
            process.stop()


def _poplib_retr(server: ServerProcess) -> bytes:
    client = poplib.POP3("127.0.0.1", server.plain_port, timeout=IDLE_LIMIT)
    try:
        client.user(LOGIN)
        client.pass_(PASSWORD)
        return b"\r\n".join(client.retr(1)[1]) + b"\r\n"
    finally:
        client.quit()


async def test_poplib_with_a_2_s_timeout_gets_a_big_message_over_a_slow_link(slow: Slow) -> None:
    assert await trio.to_thread.run_sync(_poplib_retr, slow.server) == BIG


async def test_mpop_with_a_2_s_timeout_gets_a_big_message_over_a_slow_link(
    slow: Slow, tmp_path: Path
) -> None:
    maildir = make_maildir(tmp_path / "Maildir")
    config = mpop._config(
        slow.server, "plain", maildir=maildir, uidls=tmp_path / "uidls", keep=True,
        password=PASSWORD, trust="", user=LOGIN,
    ).replace("timeout 60\n", f"timeout {IDLE_LIMIT}\n")  # fmt: skip
    assert f"timeout {IDLE_LIMIT}\n" in config
    rcfile = write_private(tmp_path / "mpoprc", config)
    assert mpop.MPOP is not None
    argv = [mpop.MPOP, "--half-quiet", f"--file={rcfile}"]
    run = await run_client(argv, client_env(tmp_path / "home"), cwd=tmp_path)
    assert run.returncode == 0, run
    assert maildir_messages(maildir) == [BIG.replace(b"\r\n", b"\n")]
