"""Split brain across replicas (``lock: s3``): a replica frozen (SIGSTOP) past its lease while a
session holds a mailbox, whose lease another replica then takes, must not commit that session's
QUIT when it wakes up: the mailbox belongs to the new session now, and the old session's marks
are dropped as for any session that lost its lock."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import PASSWORD, USER
from tests.e2e.process import ServerProcess, spawn_server
from tests.e2e.rawclient import RawClient
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

LEASE = "2"


@contextmanager
def _replicas(tmp_path: Path, seaweedfs: S3Server, bucket: str) -> Iterator[list[ServerProcess]]:
    env = seaweedfs.env(bucket, "inbox/")
    replicas: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            replicas.append(
                spawn_server(tmp_path / name, POP3_LOCK="s3", POP3_LOCK_LEASE=LEASE, **env)
            )
        yield replicas
    finally:
        for replica in replicas:
            os.kill(replica.pid, signal.SIGCONT)
            if replica.alive():
                replica.kill()


def _login_when_free(port: int, give_up: float) -> RawClient:
    """Log in on ``port`` once the mailbox is free (the frozen holder's lease ran out)."""
    while True:
        client = RawClient(port)
        reply = client.login(USER, PASSWORD)
        if reply.startswith(b"+OK"):
            return client
        client.close()
        assert b"[IN-USE]" in reply, reply
        assert time.monotonic() < give_up, "the frozen replica's lease never ran out"
        time.sleep(0.3)


def _mail(seaweedfs: S3Server, bucket: str) -> list[str]:
    return sorted(k for k in seaweedfs.keys(bucket, "inbox/"))


def test_a_frozen_replica_that_lost_its_lease_does_not_commit_a_quit(
    tmp_path: Path, seaweedfs: S3Server
) -> None:
    bucket = seaweedfs.create_bucket("splitbrain")
    for index in range(3):
        seaweedfs.put(bucket, f"inbox/m{index}", f"Subject: {index}\r\n\r\nx\r\n".encode())
    before = _mail(seaweedfs, bucket)
    with _replicas(tmp_path, seaweedfs, bucket) as (first, second):
        old = RawClient(first.plain)
        assert old.login(USER, PASSWORD).startswith(b"+OK")
        assert old.command("DELE 1").startswith(b"+OK")
        assert old.command("DELE 2").startswith(b"+OK")
        os.kill(first.pid, signal.SIGSTOP)  # a long GC pause, a VM migration, a stuck disk
        new = _login_when_free(second.plain, time.monotonic() + 30)
        assert new.command("STAT").startswith(b"+OK 3 ")
        old.send(b"QUIT\r\n")  # waits in the frozen replica's socket buffer
        os.kill(first.pid, signal.SIGCONT)
        reply = old.line()  # the woken replica's answer (or the connection cut)
        old.close()
        assert not reply.startswith(b"+OK"), reply
        assert _mail(seaweedfs, bucket) == before, "the replica without the lock deleted mail"
        assert new.command("STAT").startswith(b"+OK 3 ")
        assert new.command("QUIT").startswith(b"+OK")
        new.close()
