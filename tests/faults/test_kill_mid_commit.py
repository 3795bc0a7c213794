"""SIGKILL of a replica at each step of a QUIT commit on S3 (a fault proxy holds the step's
request unanswered, then the server is killed): proving the lease (``lock: s3``), the trash
copies, the DeleteObjects. Whatever step it dies at, no message is gone that the session did
not mark, every message still in the inbox is whole, every trash copy is a marked message, and
a new session (another process) sees the rest under the same UIDLs and can finish the job."""

from __future__ import annotations

import poplib
import time
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER
from tests.e2e.process import ServerProcess, spawn_server
from tests.e2e.rawclient import RawClient
from tests.s3.proxy import FaultProxy
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

MAIL = {f"m{n}": f"Subject: {n}\r\n\r\nbody {n}\r\n".encode() * (n * 50) for n in range(1, 5)}


def _uidls(server: ServerProcess) -> list[str]:
    client = poplib.POP3("127.0.0.1", server.plain, timeout=30)
    client.user(USER)
    client.pass_(PASSWORD)
    uids = [line.split()[1].decode() for line in client.uidl()[1]]
    client.quit()
    return uids


@pytest.mark.parametrize(
    ("mode", "lock", "step", "after"),
    [
        ("delete", "local", "delete", 0),
        ("delete", "s3", "put", 0),  # the lease proved before deleting
        ("trash", "local", "copy", 1),  # one trash copy made, the second held
        ("trash", "local", "delete", 0),  # every copy made, the delete held
        ("trash", "s3", "delete", 0),
    ],
)
def test_kill_at_each_step_of_a_quit_commit(
    tmp_path: Path,
    seaweedfs: S3Server,
    proxy: FaultProxy,
    mode: str,
    lock: str,
    step: str,
    after: int,
) -> None:
    bucket = seaweedfs.create_bucket("killed")
    for key, body in MAIL.items():
        seaweedfs.put(bucket, f"inbox/{key}", body)
        time.sleep(0.01)
    settings = {"POP3_DELETE_MODE": mode, "POP3_LOCK": lock, "POP3_LOCK_LEASE": "3"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = seaweedfs.env(bucket, "inbox/", endpoint_url=proxy.endpoint_url)
    first = spawn_server(tmp_path / "a", **settings, **env)
    try:
        client = RawClient(first.plain)
        assert client.login(USER, PASSWORD).startswith(b"+OK")
        assert client.command("DELE 1").startswith(b"+OK")
        assert client.command("DELE 3").startswith(b"+OK")
        proxy.inject(step, "stall", after=after)
        client.send(b"QUIT\r\n")
        deadline = time.monotonic() + 30
        while proxy.faulted[step] == 0:
            assert time.monotonic() < deadline, "the commit never reached the held step"
            time.sleep(0.02)
        first.kill()
        client.close()
    finally:
        if first.alive():
            first.kill()
    proxy.clear()
    inbox = {
        k.removeprefix("inbox/"): seaweedfs.get(bucket, k) for k in seaweedfs.keys(bucket, "inbox/")
    }
    assert set(MAIL) - set(inbox) <= {"m1", "m3"}, "an unmarked message is gone"
    assert all(inbox[key] == MAIL[key] for key in inbox), "a message was damaged"
    trash = {
        k.removeprefix("trash/inbox/"): seaweedfs.get(bucket, k)
        for k in seaweedfs.keys(bucket, "trash/")
    }
    assert set(trash) <= {"m1", "m3"} and all(trash[k] == MAIL[k] for k in trash)
    if mode == "trash":
        assert set(MAIL) - set(inbox) <= set(trash), "a message left the inbox without a copy"
    # a new process (lock: s3 waits for the dead replica's lease) sees the rest, same UIDLs
    second = spawn_server(tmp_path / "b", **settings, **seaweedfs.env(bucket, "inbox/"))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                uids = _uidls(second)
                break
            except poplib.error_proto as exc:
                assert b"[IN-USE]" in exc.args[0] and time.monotonic() < deadline, exc
                time.sleep(1)
        assert uids == sorted(inbox)
        client = RawClient(second.plain)
        assert client.login(USER, PASSWORD).startswith(b"+OK")
        for number, uid in enumerate(uids, 1):
            if uid in ("m1", "m3"):
                assert client.command(f"DELE {number}").startswith(b"+OK")
        assert client.command("QUIT").startswith(b"+OK")
        client.close()
    finally:
        second.stop()
    assert seaweedfs.keys(bucket, "inbox/") == ["inbox/m2", "inbox/m4"]
    if mode == "trash":
        assert seaweedfs.keys(bucket, "trash/") == ["trash/inbox/m1", "trash/inbox/m3"]
