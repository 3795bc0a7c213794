"""Two replicas (two ``pop3srv serve`` processes) on one SeaweedFS bucket with ``lock: s3``:
without takeover, concurrent logins to one mailbox have exactly one winner and killing the
winner frees the mailbox once its lease has run out; with takeover, a login on one replica ends
a silent session on the other at once, committing nothing."""

from __future__ import annotations

import poplib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import PASSWORD, USER
from tests.corpus import big_message, expected_on_wire
from tests.e2e.process import ServerProcess, spawn_server
from tests.e2e.rawclient import RawClient
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

LEASE = "2"


def _login(port: int) -> tuple[str, poplib.POP3 | None]:
    client = poplib.POP3("127.0.0.1", port, timeout=30)
    client.user(USER)
    try:
        client.pass_(PASSWORD)
    except poplib.error_proto as exc:
        client.quit()
        return str(exc), None
    return "+OK", client


@contextmanager
def _two_replicas(
    tmp_path: Path, seaweedfs: S3Server, bucket: str, **extra: str
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Replicas a and b serving ``inbox/`` of ``bucket`` with ``lock: s3``; stopped after."""
    env = seaweedfs.env(bucket, "inbox/")
    replicas = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            replicas.append(spawn_server(tmp_path / name, POP3_LOCK="s3", **extra, **env))
        yield replicas[0], replicas[1]
    finally:
        for replica in replicas:
            if replica.alive():
                replica.stop()


def test_one_winner_across_replicas_and_lease_expiry(tmp_path: Path, seaweedfs: S3Server) -> None:
    bucket = seaweedfs.create_bucket("replicas")
    for index in range(3):
        seaweedfs.put(bucket, f"inbox/m{index}", f"Subject: {index}\r\n\r\nx\r\n".encode())
    # strict refusal (no takeover): the second login never wins
    replicas = _two_replicas(
        tmp_path, seaweedfs, bucket, POP3_LOCK_LEASE=LEASE, POP3_LOCK_TAKEOVER="false"
    )
    with replicas as (first, second):
        for _round in range(3):
            with ThreadPoolExecutor(2) as pool:
                results = list(pool.map(_login, [first.plain, second.plain]))
            winners = [client for reply, client in results if client is not None]
            losers = [reply for reply, client in results if client is None]
            assert len(winners) == 1, results
            assert "[IN-USE]" in losers[0]
            winners[0].quit()  # releases the lock at once
        reply, client = _login(first.plain)
        assert client is not None
        first.kill()  # the holder dies without releasing
        assert "[IN-USE]" in _login(second.plain)[0]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            reply, client = _login(second.plain)
            if client is not None:
                assert client.stat()[0] == 3
                client.quit()
                break
            assert "[IN-USE]" in reply
            time.sleep(0.5)
        else:
            raise AssertionError("the dead replica's lock never expired")


def test_silent_session_on_one_replica_is_taken_over_from_the_other(
    tmp_path: Path, seaweedfs: S3Server
) -> None:
    bucket = seaweedfs.create_bucket("takeover")
    for index in range(3):
        seaweedfs.put(bucket, f"inbox/m{index}", f"Subject: {index}\r\n\r\nx\r\n".encode())
    with _two_replicas(tmp_path, seaweedfs, bucket, POP3_LOCK_LEASE="60") as (first, second):
        old = RawClient(first.plain)
        assert old.login(USER, PASSWORD).startswith(b"+OK")
        assert old.command("DELE 1").startswith(b"+OK")  # then silence: no QUIT, no FIN
        start = time.monotonic()
        new = RawClient(second.plain)
        reply = new.login(USER, PASSWORD)
        elapsed = time.monotonic() - start
        assert reply.startswith(b"+OK"), reply
        assert elapsed < 5.0  # far below the 60 s lease: replica A let go when asked
        assert new.command("STAT").startswith(b"+OK 3 ")
        assert old.file.read() == b""  # replica A closed the silent session
        assert new.command("QUIT").startswith(b"+OK")
        assert len([k for k in seaweedfs.keys(bucket) if k.startswith("inbox/")]) == 3
        old.close()
        new.close()


def test_busy_session_on_one_replica_is_not_cut_by_a_login_on_the_other(
    tmp_path: Path, seaweedfs: S3Server
) -> None:
    bucket = seaweedfs.create_bucket("busy")
    big = big_message()
    seaweedfs.put(bucket, "inbox/big", big)
    with _two_replicas(tmp_path, seaweedfs, bucket, POP3_LOCK_LEASE="60") as (first, second):
        old = RawClient(first.plain)
        assert old.login(USER, PASSWORD).startswith(b"+OK")
        old.send(b"RETR 1\r\n")
        assert old.line().startswith(b"+OK")
        head = [old.line() for _ in range(1000)]  # then stop reading mid-message
        assert b".\r\n" not in head
        head = [line[1:] if line.startswith(b".") else line for line in head]
        start = time.monotonic()
        new = RawClient(second.plain)
        reply = new.login(USER, PASSWORD)
        waited = time.monotonic() - start
        new.close()
        assert b"[IN-USE]" in reply, reply
        assert waited >= 4.0  # replica B waited for the busy holder before refusing
        assert b"".join(head) + old.body() == expected_on_wire(big)
        assert old.command("QUIT").startswith(b"+OK")
        old.close()
