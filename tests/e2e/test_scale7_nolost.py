"""No lost mail at scale: an S3 mailbox of more than one listing page and more than one
DeleteObjects batch (1,000 each), fetched with delete by real clients (poplib, mpop, fetchmail), the
connection cut in the middle of the download and of the QUIT commit, new mail PUT while the
session runs, ``lock: s3``. Every message is delivered at least once, none is deleted that the
session did not deliver and mark, and a client that keeps UIDLs gets none twice."""

from __future__ import annotations

import contextlib
import poplib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD, USER
from tests.e2e.clients import (
    client_env,
    make_maildir,
    make_mda,
    run_client,
    stored_messages,
    take_maildir_messages,
    write_private,
)
from tests.e2e.process import Certificate, ServerProcess, spawn_server
from tests.e2e.rawclient import RawClient
from tests.e2e.test_clients_fetchmail import FETCHMAIL, SOCKET_ERROR, _rcfile
from tests.e2e.test_clients_mpop import MPOP, _mpop
from tests.s3.proxy import FaultProxy
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

SIZE = 1500  # two listing pages, two DeleteObjects batches
PREFIX = "inbox/"
FETCHMAIL_SIZE = 150


def _mail(name: str) -> bytes:
    return f"Subject: {name}\r\nMessage-ID: <{name}@example.org>\r\n\r\nbody of {name}\r\n".encode()


def _fill(s3: S3Server, bucket: str, names: list[str]) -> None:
    s3.bulk_put(bucket, ((PREFIX + name, _mail(name)) for name in names))


def _left(s3: S3Server, bucket: str) -> set[str]:
    return {key[len(PREFIX) :] for key in s3.keys(bucket, PREFIX)}


@contextlib.contextmanager
def _server(
    tmp: Path, s3: S3Server, bucket: str, endpoint: str | None = None
) -> Iterator[ServerProcess]:
    env = s3.env(bucket, PREFIX, endpoint_url=endpoint)
    server = spawn_server(tmp, POP3_LOCK="s3", POP3_LOCK_LEASE="10", **env)
    try:
        yield server
    finally:
        server.kill()


def _subject(message: bytes) -> str:
    for line in message.splitlines():
        if line.startswith(b"Subject: "):
            return line[9:].decode()
    raise AssertionError(f"no subject in {message[:80]!r}")


def _cut(client: poplib.POP3) -> None:
    """Drop the connection with no QUIT (a reset, as when the network dies)."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.file.close()
    client.sock.close()


def _login(server: ServerProcess) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def _uidls(client: poplib.POP3) -> dict[str, int]:
    return {line.split()[1].decode(): int(line.split()[0]) for line in client.uidl()[1]}


def test_uidl_client_cut_mid_download_with_new_mail(tmp_path: Path, seaweedfs: S3Server) -> None:
    """A UIDL-keeping client with delete (as fetchmail/mpop): the first session is cut after
    1,100 messages (1,100 marked, new mail arriving), the second fetches the rest and QUITs."""
    bucket = seaweedfs.create_bucket("scale-cut")
    names = [f"m{n:05d}" for n in range(SIZE)]
    _fill(seaweedfs, bucket, names)
    seen: dict[str, str] = {}  # UIDL -> subject, the client's UIDL file
    fetched: list[str] = []
    with _server(tmp_path, seaweedfs, bucket) as server:
        client = _login(server)
        uidls = _uidls(client)
        assert len(uidls) == SIZE
        for uidl, number in list(uidls.items())[:1100]:
            seen[uidl] = _subject(b"\r\n".join(client.retr(number)[1]))
            fetched.append(uidl)
            client.dele(number)
        _fill(seaweedfs, bucket, [f"n{n:03d}" for n in range(20)])  # arrives mid-session
        _cut(client)
        assert _left(seaweedfs, bucket) == set(names) | {f"n{n:03d}" for n in range(20)}
        deadline = time.monotonic() + 15
        while True:  # the cut session's lease is given back once the server sees the reset
            try:
                client = _login(server)
                break
            except poplib.error_proto:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        uidls = _uidls(client)
        assert len(uidls) == SIZE + 20
        for uidl, number in uidls.items():
            if uidl not in seen:  # the client's UIDL file: what it has is not fetched again
                seen[uidl] = _subject(b"\r\n".join(client.retr(number)[1]))
                fetched.append(uidl)
            client.dele(number)
        _fill(seaweedfs, bucket, [f"late{n}" for n in range(5)])  # after this session's LIST
        assert client.quit().startswith(b"+OK")
    assert len(fetched) == len(set(fetched)) == SIZE + 20
    assert seen == {uidl: uidl for uidl in [*names, *(f"n{n:03d}" for n in range(20))]}
    assert _left(seaweedfs, bucket) == {f"late{n}" for n in range(5)}


def test_connection_cut_during_quit_commit(
    tmp_path: Path, seaweedfs: S3Server, proxy: FaultProxy
) -> None:
    """1,200 of 1,500 marked, QUIT, the connection reset while the commit runs (its second
    DeleteObjects batch answered 503 once): the commit still ends, only marked messages go,
    and a client reconnecting at once is kept out until it has, then sees the rest."""
    bucket = seaweedfs.create_bucket("scale-quit")
    names = [f"m{n:05d}" for n in range(SIZE)]
    _fill(seaweedfs, bucket, names)
    with _server(tmp_path, seaweedfs, bucket, proxy.endpoint_url) as server:
        client = RawClient(server.plain_port)
        assert client.login(USER, PASSWORD).startswith(b"+OK")
        assert client.command("UIDL").startswith(b"+OK")
        numbered = dict(line.decode().split() for line in client.body().splitlines())
        marked = {numbered[str(n)] for n in range(1, 1201)}
        client.send(b"".join(b"DELE %d\r\n" % n for n in range(1, 1201)))
        for _ in range(1200):
            assert client.line().startswith(b"+OK")
        proxy.inject("delete", "503", times=1, after=1)
        client.send(b"QUIT\r\n")
        deadline = time.monotonic() + 15
        while proxy.faulted["delete"] == 0:
            assert time.monotonic() < deadline, "the commit never reached its second batch"
            time.sleep(0.005)
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        _fill(seaweedfs, bucket, ["new"])
        deadline = time.monotonic() + 15
        while True:
            try:
                again = _login(server)
                break
            except poplib.error_proto as exc:
                assert b"IN-USE" in exc.args[0], exc
                assert time.monotonic() < deadline
                time.sleep(0.05)
        rest = _uidls(again)
        again.quit()
    left = _left(seaweedfs, bucket)
    kept = set(names) - marked
    assert kept | {"new"} <= left  # nothing unmarked went, new mail stays
    assert set(rest) == left  # the reconnecting client was let in after the commit
    assert left == kept | {"new"}  # the 503 was retried: every marked one gone


@dataclass
class _Endpoint:
    """The cutting proxy as mpop's server (plaintext only)."""

    plain_port: int
    server: ServerProcess

    @property
    def tls_port(self) -> int:
        return self.server.tls_port

    @property
    def bound(self) -> Certificate:
        return self.server.bound


class _CuttingProxy:
    """TCP on loopback to ``port``; the first connection is closed once ``cut_after`` bytes
    came back from the server (a download cut in the middle), later ones pass whole."""

    def __init__(self, port: int, cut_after: int) -> None:
        self._port, self._cut_after = port, cut_after
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self._port))
                limit = self._cut_after if self.connections == 0 else None
                self.connections += 1
                threading.Thread(
                    target=self._pipe, args=(conn, upstream, None), daemon=True
                ).start()
                threading.Thread(
                    target=self._pipe, args=(upstream, conn, limit), daemon=True
                ).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if limit is not None and sent + len(data) >= limit:
                    sink.sendall(data[: limit - sent])
                    # the client gets a reset (linger 0); SHUT_RD wakes the other
                    # direction's recv, so the socket is really closed now
                    sink.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sink.shutdown(socket.SHUT_RD)
                    sink.close()
                    source.shutdown(socket.SHUT_RDWR)  # the server sees the end, no QUIT
                    source.close()
                    return
                sink.sendall(data)
                sent += len(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.mark.skipif(MPOP is None, reason="mpop is not installed")
async def test_mpop_with_delete_cut_mid_download(tmp_path: Path, seaweedfs: S3Server) -> None:
    """mpop, ``keep off`` with its UIDL file: the first run is cut after ~600 messages, the
    second delivers the rest; every message delivered, none twice, the mailbox empty."""
    assert MPOP is not None
    bucket = seaweedfs.create_bucket("scale-mpop")
    names = [f"m{n:05d}" for n in range(SIZE)]
    _fill(seaweedfs, bucket, names)
    maildir = make_maildir(tmp_path / "Maildir")
    delivered: list[str] = []
    (tmp_path / "srv").mkdir()
    with _server(tmp_path / "srv", seaweedfs, bucket) as server:
        cutter = _CuttingProxy(server.plain_port, cut_after=150_000)
        try:
            for run_number in range(2):
                run, _ = await _mpop(_Endpoint(cutter.port, server), tmp_path, "plain", keep=False)
                got = [_subject(m) for m in take_maildir_messages(maildir)]
                delivered += got
                if run_number == 0:
                    assert run.returncode != 0, run  # the cut is an error for mpop
                    assert 0 < len(got) < SIZE
                    assert _left(seaweedfs, bucket) == set(names)  # no QUIT: nothing deleted
                    await trio.sleep(0.5)  # the server sees the reset and frees the lease
                else:
                    assert run.returncode == 0, run
        finally:
            cutter.close()
    assert sorted(set(delivered)) == names  # every message delivered
    assert len(delivered) == len(set(delivered)), "a message was delivered twice"
    assert _left(seaweedfs, bucket) == set()


@pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed")
async def test_fetchmail_nokeep_cut_mid_download(tmp_path: Path, seaweedfs: S3Server) -> None:
    """fetchmail, ``fetchall nokeep`` (no UIDL list): cut in the middle, run again. fetchmail
    starts its MDA once per message (~30 ms each here), so this mailbox is smaller; the batch
    boundaries are crossed by the tests above.
    Nothing is deleted without the QUIT; the second run delivers everything (what the first
    run got again: at least once is all a client without UIDLs can have) and empties the box."""
    assert FETCHMAIL is not None
    bucket = seaweedfs.create_bucket("scale-fetchmail")
    names = [f"m{n:05d}" for n in range(FETCHMAIL_SIZE)]
    _fill(seaweedfs, bucket, names)
    (tmp_path / "srv").mkdir()
    with _server(tmp_path / "srv", seaweedfs, bucket) as server:
        cutter = _CuttingProxy(server.plain_port, cut_after=12_000)
        try:
            runs = []
            for run_number in range(2):
                out = tmp_path / f"out{run_number}"
                mda = make_mda(tmp_path, out)
                rc = write_private(
                    tmp_path / "fetchmailrc",
                    _rcfile(
                        _Endpoint(cutter.port, server),
                        "plain",
                        mda=mda,
                        keep=False,
                        password=PASSWORD,
                        trust="",
                    ),
                )
                run = await run_client(
                    [FETCHMAIL, "--nodetach", "--silent", "--fetchmailrc", str(rc)],
                    client_env(tmp_path / "home"),
                    cwd=tmp_path,
                )
                runs.append([_subject(m) for m in stored_messages(out)])
                if run_number == 0:
                    assert run.returncode == SOCKET_ERROR, run
                    assert 0 < len(runs[0]) < FETCHMAIL_SIZE
                    assert _left(seaweedfs, bucket) == set(names)  # no QUIT: nothing deleted
                    await trio.sleep(0.5)  # the server sees the reset and frees the lease
                else:
                    assert run.returncode == 0, run
        finally:
            cutter.close()
    assert sorted(runs[1]) == names  # everything, in the run that ended with QUIT
    assert set(runs[0]) <= set(names)
    assert _left(seaweedfs, bucket) == set()
