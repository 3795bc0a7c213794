"""Abuse of a running ``pop3srv serve`` process over real sockets: garbage, endless lines,
slowloris, connection floods, abandoned TLS handshakes, STLS twice, an AUTH flood. Afterwards
the server is up, its memory has not run away, and a normal session works."""

from __future__ import annotations

import contextlib
import os
import poplib
import random
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import PASSWORD, USER
from tests.corpus import write_corpus
from tests.e2e.process import ServerProcess, spawn_server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("abuse")
    write_corpus(tmp / "mail")
    proc = spawn_server(
        tmp,
        POP3_LOGIN_TIMEOUT="2",
        POP3_MAX_CONNECTIONS="10000",
        POP3_MAX_CONNECTIONS_PER_IP="10000",
        POP3_LOGIN_PENALTY_MAX="0.2",
    )
    yield proc
    err = proc.stop()
    assert "Traceback" not in err, err[-4000:]


def _connect(port: int, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def _drain(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def _normal_session_works(proc: ServerProcess) -> None:
    client = poplib.POP3("127.0.0.1", proc.plain, timeout=30)
    client.user(USER)
    client.pass_(PASSWORD)
    count, _octets = client.stat()
    assert count > 0
    _resp, lines, _ = client.retr(1)
    assert lines
    client.quit()


def _many(count: int, job: object) -> list[object]:
    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(job, range(count)))  # type: ignore[arg-type]


def test_random_bytes_get_errors_and_closed(served: ServerProcess) -> None:
    rng = random.Random(7)

    def garbage(index: int) -> bytes:
        sock = _connect(served.plain)
        sock.recv(100)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(bytes(rng.getrandbits(8) for _ in range(20_000)) + b"\r\n" * 20)
        reply = _drain(sock)
        sock.close()
        return reply

    replies = _many(40, garbage)
    assert all(isinstance(r, bytes) and (r == b"" or b"-ERR" in r) for r in replies)
    _normal_session_works(served)


def test_megabyte_lines_without_lf(served: ServerProcess) -> None:
    def endless(index: int) -> bytes:
        sock = _connect(served.plain)
        sock.recv(100)
        for _ in range(16):
            sock.sendall(b"A" * 65536)
        sock.sendall(b"\r\nNOOP\r\n")
        reply = sock.recv(200)
        sock.close()
        return reply

    for reply in _many(10, endless):
        assert isinstance(reply, bytes) and reply.startswith(b"-ERR"), reply
    _normal_session_works(served)


def test_slowloris_is_cut_by_the_login_timeout(served: ServerProcess) -> None:
    socks = [_connect(served.plain) for _ in range(20)]
    for sock in socks:
        sock.recv(100)
        sock.setblocking(False)
    replies = dict.fromkeys(socks, b"")
    closed: set[socket.socket] = set()
    for _ in range(30):  # one byte per 0.5 s on every connection, for up to 15 s
        for sock in set(socks) - closed:
            try:
                sock.sendall(b"N")
                while chunk := sock.recv(4096):
                    replies[sock] += chunk
                closed.add(sock)  # recv returned b"": the server closed it
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed.add(sock)
        if len(closed) == len(socks):
            break
        _normal_session_works(served)  # others keep working meanwhile
        time.sleep(0.5)
    assert len(closed) == len(socks), "trickling kept connections open past the login timeout"
    assert all(b"-ERR autologout" in reply for reply in replies.values())
    for sock in socks:
        sock.close()


def test_thousands_of_connections_opened_and_dropped(served: ServerProcess) -> None:
    before = served.rss_mib()

    def drop(index: int) -> None:
        plain = index % 2 == 1
        sock = _connect(served.plain if plain else served.tls)
        if plain and index % 3 == 0:
            sock.recv(10)  # wait for the greeting first
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()  # RST

    _many(3000, drop)
    _normal_session_works(served)
    assert served.alive()
    assert served.rss_mib() - before < 40


def test_tls_handshakes_abandoned_midway(served: ServerProcess) -> None:
    hello = bytes.fromhex("160301") + b"\x02\x00" + b"\x01\x00\x01\xfc\x03\x03" + os.urandom(64)
    socks = []
    for index in range(200):
        sock = _connect(served.tls)
        sock.sendall(hello[: 5 + index % 40])  # a partial ClientHello, then silence
        socks.append(sock)
    _normal_session_works(served)
    for sock in socks:
        sock.close()
    context = ssl.create_default_context(cafile=served.cert)
    client = poplib.POP3_SSL("localhost", served.tls, context=context, timeout=30)
    client.user(USER)
    client.pass_(PASSWORD)
    client.quit()


def test_stls_twice_is_refused(served: ServerProcess) -> None:
    sock = _connect(served.plain)
    sock.recv(100)
    sock.sendall(b"STLS\r\n")
    assert sock.recv(100).startswith(b"+OK")
    context = ssl.create_default_context(cafile=served.cert)
    tls = context.wrap_socket(sock, server_hostname="localhost")
    tls.sendall(b"STLS\r\n")
    assert tls.recv(100).startswith(b"-ERR")
    tls.sendall(b"CAPA\r\n")
    assert b"STLS" not in _read_until_dot(tls)
    tls.close()


def _read_until_dot(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n.\r\n"):
        data += sock.recv(4096)
    return data


def test_auth_flood_is_closed_by_the_budget(served: ServerProcess) -> None:
    def flood(index: int) -> bytes:
        sock = _connect(served.plain, timeout=30)
        sock.recv(100)
        try:
            for _ in range(50):
                sock.sendall(b"AUTH PLAIN AGJvZ3VzAGJvZ3Vz\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = _drain(sock)
        sock.close()
        return data

    for reply in _many(30, flood):
        assert isinstance(reply, bytes)
        assert reply.count(b"-ERR [AUTH]") <= 3, reply[:300]
    _normal_session_works(served)
