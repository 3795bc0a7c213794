"""A leave-on-server client (mpop, ``keep on``, its UIDL file) moving between two replicas
with ``lock: s3``, across a session taken over and a replica killed in the middle of a QUIT
commit: it never downloads a message twice and never misses one it has not seen (UIDLs are the
object keys, the same on every replica and after every event)."""

from __future__ import annotations

import time
from pathlib import Path

import trio

from tests.conftest import PASSWORD, USER
from tests.e2e import test_clients_mpop as mpop
from tests.e2e.clients import take_maildir_messages
from tests.e2e.process import ServerProcess, spawn_server
from tests.e2e.rawclient import RawClient
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


async def _mpop(server: ServerProcess, base: Path, *, keep: bool) -> list[bytes]:
    """One mpop run; the messages it delivered this time (its Maildir is emptied after)."""
    run, _ = await mpop._mpop(server, base, "plain", keep=keep)
    assert run.returncode == 0, run
    return take_maildir_messages(base / "Maildir")


def _subjects(messages: list[bytes]) -> list[str]:
    return sorted(
        line.split(b":", 1)[1].strip().decode()
        for message in messages
        for line in message.splitlines()
        if line.startswith(b"Subject:")
    )


async def test_leave_on_server_client_across_replicas_and_faults(
    tmp_path: Path, seaweedfs: S3Server
) -> None:
    bucket = seaweedfs.create_bucket("uidl")

    def deliver(*names: str) -> None:
        for name in names:
            seaweedfs.put(bucket, f"inbox/{name}", f"Subject: {name}\r\n\r\nbody\r\n".encode())
            time.sleep(0.01)

    deliver("a1", "a2", "a3")
    env = seaweedfs.env(bucket, "inbox/")
    replicas = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        replicas.append(spawn_server(tmp_path / name, POP3_LOCK="s3", POP3_LOCK_LEASE="3", **env))
    first, second = replicas
    client = tmp_path / "client"
    client.mkdir()
    try:
        assert _subjects(await _mpop(first, client, keep=True)) == ["a1", "a2", "a3"]
        deliver("b1", "b2")
        assert _subjects(await _mpop(second, client, keep=True)) == ["b1", "b2"]
        # a silent session on replica a (DELE marks, no QUIT) is taken over by mpop on b
        silent = RawClient(first.plain)
        assert silent.login(USER, PASSWORD).startswith(b"+OK")
        assert silent.command("DELE 1").startswith(b"+OK")
        deliver("c1")
        assert _subjects(await _mpop(second, client, keep=True)) == ["c1"]
        silent.close()
        # a phone deletes a1 and a2 on replica a, which is killed in the middle of its QUIT
        phone = RawClient(first.plain)
        assert phone.login(USER, PASSWORD).startswith(b"+OK")
        assert phone.command("DELE 1").startswith(b"+OK")
        assert phone.command("DELE 2").startswith(b"+OK")
        phone.send(b"QUIT\r\n")
        first.kill()
        phone.close()
        deliver("d1")
        with trio.fail_after(60):
            while True:  # replica a's lease runs out (a session may have been committing)
                probe = RawClient(second.plain)
                reply = probe.login(USER, PASSWORD)
                probe.command("QUIT")
                probe.close()
                if reply.startswith(b"+OK"):
                    break
                await trio.sleep(0.5)
        assert _subjects(await _mpop(second, client, keep=True)) == ["d1"]
        # keep off: everything still there is deleted, nothing new is delivered twice
        deliver("e1")
        assert _subjects(await _mpop(second, client, keep=False)) == ["e1"]
        assert seaweedfs.keys(bucket, "inbox/") == []
    finally:
        for replica in replicas:
            if replica.alive():
                replica.stop()
