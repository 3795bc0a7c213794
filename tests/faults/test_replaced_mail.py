"""A message replaced under its name between the listing at login and the QUIT (same S3 key or
file name, new content: another writer's new mail) is new mail the client never saw: the QUIT
that marked the old one must leave it in place, in ``delete`` and in ``trash`` mode, on S3 and
in the mail folder. Only messages still as listed are deleted."""

from __future__ import annotations

import os
import poplib
import time
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer, start_server
from tests.s3.mailbox import start_s3_pop3
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

OLD = {f"m{n}": f"Subject: old {n}\r\n\r\nold body {n}\r\n".encode() for n in (1, 2, 3)}
NEW = b"Subject: new mail under an old name\r\n\r\nnever seen by the client\r\n"


def _session_that_replaces(server: RunningServer, replace: object) -> tuple[bytes, list[str]]:
    """Log in, DELE 1 and 2, let ``replace`` swap message 1's content, QUIT; the QUIT reply,
    then the UIDLs a new session sees."""
    client = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
    client.user(USER)
    client.pass_(PASSWORD)
    assert [line.split()[1] for line in client.uidl()[1]] == [b"m1", b"m2", b"m3"]
    client.dele(1)
    client.dele(2)
    replace()  # type: ignore[operator]
    reply = client.quit()
    again = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
    again.user(USER)
    again.pass_(PASSWORD)
    uids = [line.split()[1].decode() for line in again.uidl()[1]]
    again.quit()
    return reply, uids


@pytest.mark.parametrize("mode", ["delete", "trash"])
async def test_s3_object_replaced_before_quit_is_kept(
    nursery: trio.Nursery, tmp_path: Path, seaweedfs: S3Server, mode: str
) -> None:
    bucket = seaweedfs.create_bucket("replaced")
    for key, body in OLD.items():
        seaweedfs.put(bucket, f"inbox/{key}", body)
        time.sleep(0.01)
    server = await start_s3_pop3(nursery, tmp_path, seaweedfs, bucket, POP3_DELETE_MODE=mode)

    def replace() -> None:
        seaweedfs.put(bucket, "inbox/m1", NEW)

    reply, uids = await trio.to_thread.run_sync(_session_that_replaces, server, replace)
    server.shutdown.set()
    assert reply.startswith(b"+OK"), reply
    assert seaweedfs.get(bucket, "inbox/m1") == NEW, "new mail under a marked name was deleted"
    assert sorted(seaweedfs.keys(bucket, "inbox/")) == ["inbox/m1", "inbox/m3"]
    assert uids == ["m3", "m1"] or sorted(uids) == ["m1", "m3"]
    if mode == "trash":
        assert seaweedfs.keys(bucket, "trash/") == ["trash/inbox/m2"]
        assert seaweedfs.get(bucket, "trash/inbox/m2") == OLD["m2"]


@pytest.mark.parametrize("how", ["renamed over", "rewritten in place"])
async def test_folder_file_replaced_before_quit_is_kept(
    nursery: trio.Nursery, tmp_path: Path, how: str
) -> None:
    mail = tmp_path / "mail"
    mail.mkdir()
    for key, body in OLD.items():
        (mail / key).write_bytes(body)
    server = await start_server(nursery, tmp_path)

    def replace() -> None:
        if how == "renamed over":  # a delivery agent's write-then-rename
            (mail / ".m1.tmp").write_bytes(NEW)
            os.replace(mail / ".m1.tmp", mail / "m1")
        else:
            (mail / "m1").write_bytes(NEW)

    reply, uids = await trio.to_thread.run_sync(_session_that_replaces, server, replace)
    server.shutdown.set()
    assert reply.startswith(b"+OK"), reply
    assert (mail / "m1").read_bytes() == NEW, "new mail under a marked name was deleted"
    assert sorted(p.name for p in mail.iterdir()) == ["m1", "m3"]
    assert sorted(uids) == ["m1", "m3"]
