"""Byte-level tests over real sockets: exact bodies, pipelining, bad input, dropped connections."""

from __future__ import annotations

import hashlib
import socket

import trio

from tests.conftest import PASSWORD, USER, RunningServer
from tests.corpus import BIG_NAME, expected_on_wire, write_corpus
from tests.e2e.rawclient import RawClient


async def test_retr_is_byte_exact_for_every_corpus_message(server: RunningServer) -> None:
    messages = write_corpus(server.mail_dir, big=True)

    def run() -> dict[str, str]:
        client = RawClient(server.plain_port)
        assert client.login(USER, PASSWORD).startswith(b"+OK")
        digests = {}
        for number, name in enumerate(messages, 1):
            assert client.command(f"RETR {number}").startswith(b"+OK")
            digests[name] = hashlib.sha256(client.body()).hexdigest()
        assert client.command("QUIT").startswith(b"+OK")
        client.close()
        return digests

    digests = await trio.to_thread.run_sync(run)
    for name, raw in messages.items():
        assert digests[name] == hashlib.sha256(expected_on_wire(raw)).hexdigest(), name
    assert BIG_NAME in digests


async def test_pipelined_commands_in_one_write(server: RunningServer) -> None:
    write_corpus(server.mail_dir)

    def run() -> list[bytes]:
        client = RawClient(server.plain_port)
        client.send(
            f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nNOOP\r\nDELE 1\r\nSTAT\r\n".encode()
        )
        replies = [client.line() for _ in range(6)]
        client.send(b"RSET\r\nQUIT\r\n")
        replies += [client.line(), client.line()]
        client.close()
        return replies

    replies = await trio.to_thread.run_sync(run)
    assert all(reply.startswith(b"+OK") for reply in replies), replies
    assert replies[2].split()[1] != replies[5].split()[1]


async def test_over_long_line_is_refused_and_session_continues(server: RunningServer) -> None:
    def run() -> tuple[bytes, bytes]:
        client = RawClient(server.plain_port)
        too_long = client.command("NOOP " + "x" * 100_000)
        after = client.command("CAPA")
        client.body()
        client.close()
        return too_long, after

    too_long, after = await trio.to_thread.run_sync(run)
    assert too_long.startswith(b"-ERR")
    assert after.startswith(b"+OK")


async def test_binary_garbage_gets_err_then_close(server: RunningServer) -> None:
    def run() -> list[bytes]:
        client = RawClient(server.plain_port)
        client.send(b"\x00\xff\xfe garbage \x80\r\n" * 20)
        replies = []
        while line := client.line():
            replies.append(line)
        client.close()
        return replies

    replies = await trio.to_thread.run_sync(run)
    assert replies, "server must answer before closing"
    assert all(reply.startswith(b"-ERR") for reply in replies)
    assert len(replies) <= 10  # the bad-command budget closes the connection


async def test_dropped_connection_after_dele_deletes_nothing(server: RunningServer) -> None:
    messages = write_corpus(server.mail_dir)

    def run() -> bytes:
        client = RawClient(server.plain_port)
        client.login(USER, PASSWORD)
        assert client.command("DELE 1").startswith(b"+OK")
        assert client.command("DELE 2").startswith(b"+OK")
        client.sock.shutdown(socket.SHUT_RDWR)
        client.close()
        again = RawClient(server.plain_port)
        again.login(USER, PASSWORD)
        stat = again.command("STAT")
        again.command("QUIT")
        again.close()
        return stat

    stat = await trio.to_thread.run_sync(run)
    assert stat.split()[1] == str(len(messages)).encode()
    assert sorted(p.name for p in server.mail_dir.iterdir()) == sorted(messages)


async def test_plaintext_pipelined_after_stls_is_discarded(server: RunningServer) -> None:
    def run() -> tuple[bytes, bytes]:
        client = RawClient(server.plain_port)
        client.send(f"STLS\r\nUSER {USER}\r\nPASS {PASSWORD}\r\n".encode())
        ok = client.line()
        tls = server.client_tls_context().wrap_socket(client.sock, server_hostname="localhost")
        tls.sendall(b"STAT\r\n")
        reply = tls.makefile("rb").readline()
        tls.close()
        return ok, reply

    ok, reply = await trio.to_thread.run_sync(run)
    assert ok.startswith(b"+OK")
    assert reply.startswith(b"-ERR"), "STAT must not work: the injected login was discarded"


async def test_unknown_command_and_wrong_state(server: RunningServer) -> None:
    def run() -> list[bytes]:
        client = RawClient(server.plain_port)
        replies = [client.command("XYZZY"), client.command("STAT"), client.command("RETR 1")]
        replies.append(client.command("PASS nouser"))
        client.close()
        return replies

    for reply in await trio.to_thread.run_sync(run):
        assert reply.startswith(b"-ERR"), reply


async def test_retr_of_missing_and_deleted_message(server: RunningServer) -> None:
    write_corpus(server.mail_dir)

    def run() -> list[bytes]:
        client = RawClient(server.plain_port)
        client.login(USER, PASSWORD)
        replies = [client.command("RETR 0"), client.command("RETR 999"), client.command("LIST 999")]
        client.command("DELE 1")
        replies += [client.command("DELE 1"), client.command("TOP 1 0"), client.command("UIDL 1")]
        client.close()
        return replies

    for reply in await trio.to_thread.run_sync(run):
        assert reply.startswith(b"-ERR"), reply
