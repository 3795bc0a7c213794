"""Read-ahead over a real S3 server: it never changes what a client receives, a message gone
behind the server's back is an -ERR for its own RETR only, and a client that drops in the
middle of a read-ahead leaves no body open and no budget taken."""

from __future__ import annotations

import poplib
import socket
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer, start_server
from tests.corpus import CORPUS, expected_on_wire
from tests.s3.proxy import FaultProxy
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

FILLERS = 20


def _load(server: S3Server, bucket: str) -> dict[str, bytes]:
    messages = dict(CORPUS)
    messages.update(
        {f"filler-{i:02d}": f"Subject: {i}\r\n\r\nbody {i}\r\n".encode() for i in range(FILLERS)}
    )
    server.bulk_put(bucket, ((f"inbox/{key}", raw) for key, raw in messages.items()))
    return messages


def _login(running: RunningServer) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", running.plain_port, timeout=60)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def _sample(running: RunningServer, name: str, labels: dict[str, str] | None = None) -> float:
    return running.runtime.prometheus.get_sample_value(name, labels or {}) or 0.0


async def test_read_ahead_is_byte_exact_and_a_vanished_message_fails_alone(
    s3_server: S3Server,
    bucket: str,
    nursery: trio.Nursery,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(poplib, "_MAXLINE", 100_000)
    messages = _load(s3_server, bucket)
    running = await start_server(nursery, tmp_path, **s3_server.env(bucket, "inbox"))

    def top(client: poplib.POP3, number: int) -> list[bytes] | str:
        try:
            return client.top(number, 0)[1]
        except poplib.error_proto as exc:
            return str(exc)

    def session(vanish: int | None) -> tuple[dict[str, bytes | str], dict[str, list[bytes] | str]]:
        client = _login(running)
        _r, uids, _o = client.uidl()
        order = {int(n): key.decode() for n, key in (line.split() for line in uids)}
        if vanish is not None:  # deleted by someone else after LIST, before any RETR
            s3_server.client.delete_object(Bucket=bucket, Key=f"inbox/{order[vanish]}")
        retrieved: dict[str, bytes | str] = {}
        for number, key in sorted(order.items()):
            try:
                _r, lines, _o = client.retr(number)
            except poplib.error_proto as exc:
                retrieved[key] = str(exc)
                continue
            retrieved[key] = b"".join(line + b"\r\n" for line in lines)
        tops = {key: top(client, number) for number, key in sorted(order.items())}
        client.quit()
        return retrieved, tops

    running.runtime.readahead.limit = 0  # read-ahead off: the reference TOP replies
    _plain, reference_tops = await trio.to_thread.run_sync(session, None)
    running.runtime.readahead.limit = 64 * 1024 * 1024
    retrieved, tops = await trio.to_thread.run_sync(session, 5)
    assert running.runtime.readahead.peak > 0  # it did read ahead

    vanished = [key for key, got in retrieved.items() if isinstance(got, str)]
    assert len(vanished) == 1
    assert "[SYS/TEMP] message no longer exists" in str(retrieved[vanished[0]])
    for key, raw in messages.items():
        if key not in vanished:
            assert retrieved[key] == expected_on_wire(raw), key
    assert "[SYS/TEMP] message no longer exists" in str(tops.pop(vanished[0]))
    del reference_tops[vanished[0]]
    assert tops == reference_tops
    assert running.runtime.readahead.used == 0
    assert running.runtime.pool.open_bodies == 0
    running.shutdown.set()


async def test_a_dropped_connection_mid_read_ahead_leaves_nothing_open(
    seaweedfs: S3Server, proxy: FaultProxy, nursery: trio.Nursery, tmp_path: Path
) -> None:
    bucket = seaweedfs.create_bucket()
    _load(seaweedfs, bucket)
    env = seaweedfs.env(bucket, "inbox", endpoint_url=proxy.endpoint_url)
    running = await start_server(nursery, tmp_path, **env)

    def retr_two_then_drop() -> None:
        stall: set[str] = set()
        sock = socket.create_connection(("127.0.0.1", running.plain_port), timeout=30)
        reader = sock.makefile("rb")
        reader.readline()
        for command in (f"USER {USER}", f"PASS {PASSWORD}", "UIDL", "RETR 1", "RETR 2"):
            sock.sendall(command.encode() + b"\r\n")
            assert reader.readline().startswith(b"+OK")
            if command in ("UIDL", "RETR 1", "RETR 2"):
                body = b"".join(iter(reader.readline, b".\r\n"))
            if command == "UIDL":  # RETR 1 and 2 are served; what is read ahead hangs
                lines = body.splitlines()
                stall.update(f"inbox/{line.split()[1].decode()}" for line in lines[2:])
                proxy.inject("get", "stall", keys=stall.__contains__)
        reader.close()  # RETR 3 and on are being read ahead (and stall): the client goes
        sock.close()

    await trio.to_thread.run_sync(retr_two_then_drop)
    registry = running.runtime.registry
    with trio.fail_after(10):
        while registry.snapshots():
            await trio.sleep(0.05)
        while running.runtime.readahead.used or running.runtime.pool.open_bodies:
            await trio.sleep(0.05)
    assert running.runtime.readahead.peak > 0
    assert running.runtime.readahead.used == 0
    assert running.runtime.pool.open_bodies == 0
    assert _sample(running, "s3_open_bodies") == 0
    running.shutdown.set()


async def test_pipelined_retrs_take_the_read_ahead_path(
    s3_server: S3Server, bucket: str, nursery: trio.Nursery, tmp_path: Path
) -> None:
    """mpop sends its RETRs in one go: answered one by one, read ahead, nothing changed."""
    messages = _load(s3_server, bucket)
    running = await start_server(nursery, tmp_path, **s3_server.env(bucket, "inbox"))

    def pipelined() -> bytes:
        sock = socket.create_connection(("127.0.0.1", running.plain_port), timeout=30)
        count = len(messages)
        commands = [f"USER {USER}", f"PASS {PASSWORD}", "UIDL"]
        commands += [f"RETR {n}" for n in range(1, count + 1)] + ["QUIT"]
        sock.sendall("".join(c + "\r\n" for c in commands).encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        sock.close()
        return received

    wire = await trio.to_thread.run_sync(pipelined)
    assert running.runtime.readahead.peak > 0
    assert wire.endswith(b"+OK pop3srv signing off\r\n")
    uidl = wire.split(b"unique-id listing\r\n", 1)[1].split(b"\r\n.\r\n", 1)[0]
    order = [line.split()[1].decode() for line in uidl.split(b"\r\n")]
    replies = wire.split(b" octets\r\n")[1:]
    assert len(replies) == len(order)
    for key, reply in zip(order, replies, strict=True):
        body = reply.split(b"\r\n.\r\n", 1)[0] + b"\r\n"
        unstuffed = b"\r\n".join(
            line[1:] if line.startswith(b".") else line for line in body.split(b"\r\n")
        )
        assert unstuffed == expected_on_wire(messages[key]), key
    assert running.runtime.readahead.used == 0
    running.shutdown.set()
