"""Lock takeover in one process: a login ends a session that went silent between commands
(nothing committed), waits a little for a busy one (a RETR of 40 MiB is never cut), and
``lock-takeover: false`` restores strict refusal."""

from __future__ import annotations

import time
from pathlib import Path

import trio

from pop3srv.registry import SessionSnapshot
from tests.conftest import PASSWORD, USER, RunningServer, start_server
from tests.corpus import BIG_NAME, expected_on_wire, write_corpus
from tests.e2e.rawclient import RawClient
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


def _sample(server: RunningServer, name: str, **labels: str) -> float:
    return server.runtime.prometheus.get_sample_value(name, labels) or 0.0


async def test_silent_holder_is_ended_and_the_new_login_sees_every_message(
    server: RunningServer,
) -> None:
    messages = write_corpus(server.mail_dir)
    reasons: list[str] = []

    def watcher(kind: str, snap: SessionSnapshot | None, session_id: str) -> None:
        if snap is not None and snap.ended_by:
            reasons.append(snap.ended_by)

    server.runtime.registry.watch(watcher)

    def run() -> tuple[bytes, float, bytes, bytes, bytes]:
        old = RawClient(server.plain_port)
        assert old.login(USER, PASSWORD).startswith(b"+OK")
        assert old.command("DELE 1").startswith(b"+OK")
        assert old.command("DELE 2").startswith(b"+OK")
        # the phone's network dies: no QUIT, no FIN; the socket stays open and silent
        start = time.monotonic()
        new = RawClient(server.plain_port)
        reply = new.login(USER, PASSWORD)
        elapsed = time.monotonic() - start
        stat = new.command("STAT")
        rest = old.file.read()  # the server closed the old connection
        quit_reply = new.command("QUIT")
        old.close()
        new.close()
        return reply, elapsed, stat, rest, quit_reply

    reply, elapsed, stat, rest, quit_reply = await trio.to_thread.run_sync(run)
    assert reply.startswith(b"+OK"), reply
    assert elapsed < 2.0
    assert stat.split()[1] == str(len(messages)).encode()
    assert rest == b""
    assert quit_reply.startswith(b"+OK")
    assert sorted(p.name for p in server.mail_dir.iterdir()) == sorted(messages)  # no DELE ran
    assert _sample(server, "pop3_lock_takeovers_total", lock="local") == 1
    assert _sample(server, "pop3_sessions_total", outcome="taken_over") == 1
    assert len(reasons) == 1 and reasons[0].startswith("taken over by a new login from 127.0.0.1:")


async def test_holder_in_the_middle_of_a_big_retr_is_not_cut(server: RunningServer) -> None:
    messages = write_corpus(server.mail_dir, big=True)
    big_number = list(messages).index(BIG_NAME) + 1

    def run() -> tuple[bytes, float, bytes, bytes]:
        old = RawClient(server.plain_port)
        assert old.login(USER, PASSWORD).startswith(b"+OK")
        old.send(f"RETR {big_number}\r\n".encode())
        assert old.line().startswith(b"+OK")
        first = [old.line() for _ in range(1000)]  # then stop reading: the server's send blocks
        assert b".\r\n" not in first
        first = [line[1:] if line.startswith(b".") else line for line in first]
        start = time.monotonic()
        new = RawClient(server.plain_port)
        reply = new.login(USER, PASSWORD)
        waited = time.monotonic() - start
        new.close()
        body = b"".join(first) + old.body()
        quit_reply = old.command("QUIT")
        old.close()
        return reply, waited, body, quit_reply

    reply, waited, body, quit_reply = await trio.to_thread.run_sync(run)
    assert b"[IN-USE]" in reply, reply
    assert waited >= 4.0  # it waited for the busy holder before refusing
    assert body == expected_on_wire(messages[BIG_NAME])
    assert quit_reply.startswith(b"+OK")
    assert _sample(server, "pop3_lock_takeovers_total", lock="local") == 0


async def test_takeover_off_refuses_at_once(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_server(nursery, tmp_path, POP3_LOCK_TAKEOVER="false")
    write_corpus(running.mail_dir)

    def run() -> tuple[bytes, float]:
        old = RawClient(running.plain_port)
        assert old.login(USER, PASSWORD).startswith(b"+OK")
        start = time.monotonic()
        new = RawClient(running.plain_port)
        reply = new.login(USER, PASSWORD)
        elapsed = time.monotonic() - start
        new.close()
        assert old.command("NOOP").startswith(b"+OK")  # the holder is untouched
        old.command("QUIT")
        old.close()
        return reply, elapsed

    reply, elapsed = await trio.to_thread.run_sync(run)
    assert reply == b"-ERR [IN-USE] maildrop already locked by another session\r\n"
    assert elapsed < 1.0
    running.shutdown.set()


async def test_takeover_with_s3_leases_in_one_process(
    nursery: trio.Nursery, tmp_path: Path, seaweedfs: S3Server
) -> None:
    """With ``lock: s3`` the holder's lease is deleted before its local lock is freed, so the
    new login on the same replica finds both free at once."""
    bucket = seaweedfs.create_bucket("takeover-local")
    for index in range(2):
        seaweedfs.put(bucket, f"inbox/m{index}", f"Subject: {index}\r\n\r\nx\r\n".encode())
    env = seaweedfs.env(bucket, "inbox/")
    running = await start_server(nursery, tmp_path, POP3_LOCK="s3", **env)

    def run() -> tuple[bytes, float, bytes, bytes]:
        old = RawClient(running.plain_port)
        assert old.login(USER, PASSWORD).startswith(b"+OK")
        assert old.command("DELE 1").startswith(b"+OK")
        start = time.monotonic()
        new = RawClient(running.plain_port)
        reply = new.login(USER, PASSWORD)
        elapsed = time.monotonic() - start
        stat = new.command("STAT")
        rest = old.file.read()
        new.command("QUIT")
        old.close()
        new.close()
        return reply, elapsed, stat, rest

    reply, elapsed, stat, rest = await trio.to_thread.run_sync(run)
    assert reply.startswith(b"+OK"), reply
    assert elapsed < 2.0
    assert stat.startswith(b"+OK 2 ")
    assert rest == b""
    assert seaweedfs.keys(bucket, "inbox/") == ["inbox/m0", "inbox/m1"]
    assert _sample(running, "pop3_lock_takeovers_total", lock="local") == 1
    running.shutdown.set()
