"""The transport loop with pipelined commands (RFC 2449 PIPELINING) and its one cancel scope for
the waits: replies to buffered commands in one write, the same bytes as one at a time, other
tasks still run, and the idle deadline applies to waits only (memory streams, autojump clock)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import struct
import termios
from collections.abc import AsyncGenerator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
import trio
import trio.testing

from pop3srv import inbox
from pop3srv.auth.base import AuthFailed, LoginContext, Principal
from pop3srv.service import open_store
from pop3srv.storage.base import Location, MessageStore, StoreUnavailable
from pop3srv.transport import UNCHECKED_COMMANDS, ConnectionHandler
from tests.test_transport import folder_handler, read_all

COMMANDS = [
    b"USER u",
    b"PASS p",
    b"STAT",
    b"LIST",
    b"UIDL",
    b"RETR 1",
    b"TOP 2 1",
    b"DELE 1",
    b"RETR 1",
    b"NOOP",
    b"RSET",
    b"LIST 1",
    b"XYZZY",
    b"QUIT",
]


def _handler(tmp_path: Path, **limits: float) -> ConnectionHandler:
    (tmp_path / "m1").write_bytes(b"Subject: one\r\n\r\nbody\r\n.dot line\r\n")
    (tmp_path / "m2").write_bytes(b"Subject: two\n\nline 1\nline 2\n")
    return folder_handler(tmp_path, **limits)


class _CountedWrites(trio.abc.Stream):
    """A stream that counts its writes."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.writes = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _reply(stream: trio.abc.Stream, multiline: bool) -> bytes:
    data = b""
    while not data.endswith(b"\n") or (
        multiline and data.startswith(b"+OK") and not data.endswith(b"\r\n.\r\n")
    ):
        data += await stream.receive_some(1)
    return data


def _multiline(command: bytes) -> bool:
    return command in (b"LIST", b"UIDL") or command.startswith((b"RETR", b"TOP"))


async def _transcript(tmp_path: Path, *, pipelined: bool) -> tuple[bytes, int]:
    handler = _handler(tmp_path)
    client, server = trio.testing.memory_stream_pair()
    counted = _CountedWrites(server)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, counted, "plain")
        greeting = await _reply(client, multiline=False)
        writes = counted.writes
        if pipelined:
            await client.send_all(b"".join(c + b"\r\n" for c in COMMANDS))
            transcript = await read_all(client)
        else:
            transcript = b""
            for command in COMMANDS:
                await client.send_all(command + b"\r\n")
                transcript += await _reply(client, _multiline(command))
            assert await read_all(client) == b""
    assert greeting.startswith(b"+OK")
    return transcript, counted.writes - writes


async def test_pipelined_replies_are_the_same_bytes_in_one_write(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one_by_one, writes = await _transcript(tmp_path / "a", pipelined=False)
    pipelined, pipelined_writes = await _transcript(tmp_path / "b", pipelined=True)
    assert pipelined == one_by_one
    assert one_by_one.count(b"\r\n.\r\n") == 4  # LIST, UIDL, RETR, TOP (the second RETR: -ERR)
    assert b"-ERR unknown command" in one_by_one
    assert writes == len(COMMANDS)
    assert pipelined_writes == 3  # what is held goes out before PASS and QUIT (they may wait)


class _SlowLogin:
    """Refuses every login, but only once ``done`` is set (a penalty, a slow callback)."""

    def __init__(self) -> None:
        self.done = trio.Event()

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        await self.done.wait()
        raise AuthFailed("invalid user name or password", reason="bad-password")


_PLAIN = base64.b64encode(b"\0u\0wrong")


@pytest.mark.parametrize(
    ("login", "prompt", "prompts"),
    [
        (b"USER u\r\nPASS wrong", b"+OK", 1),
        (b"AUTH PLAIN " + _PLAIN, b"+ ", 0),
        (b"AUTH PLAIN\r\n" + _PLAIN, b"+ ", 1),
    ],
    ids=["pass", "initial-response", "response"],
)
async def test_replies_held_before_a_waiting_login_are_sent_first(
    tmp_path: Path, login: bytes, prompt: bytes, prompts: int
) -> None:
    """PASS, AUTH with its initial response, or the response after AUTH's prompt: the replies
    before it (CAPA's, and USER's or the prompt) are sent while the login waits."""
    handler, slow = _handler(tmp_path), _SlowLogin()
    handler.deps = replace(handler.deps, authenticator=slow)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await _reply(client, multiline=False)
        await client.send_all(b"CAPA\r\n" + login + b"\r\nQUIT\r\n")
        with trio.fail_after(5):  # held until the login ends: never, as the test waits first
            capa = await _reply(client, multiline=True)
            replies = [await _reply(client, multiline=False) for _ in range(prompts)]
        slow.done.set()
        rest = await read_all(client)
    assert capa.startswith(b"+OK") and capa.endswith(b"\r\n.\r\n")
    assert all(reply.startswith(prompt) for reply in replies)
    error, bye = rest.splitlines()
    assert error.startswith(b"-ERR [AUTH]") and bye.startswith(b"+OK")


async def test_pipelined_commands_let_other_tasks_run(tmp_path: Path) -> None:
    handler = _handler(tmp_path)
    client, server = trio.testing.memory_stream_pair()
    registry = handler.deps.registry
    seen: set[int] = set()
    noops = 640

    async def watch() -> None:
        while True:
            seen.update(snapshot.commands for snapshot in registry.snapshots())
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await _reply(client, multiline=False)
        nursery.start_soon(watch)
        await client.send_all(b"USER u\r\nPASS p\r\n" + b"NOOP\r\n" * noops + b"QUIT\r\n")
        transcript = await read_all(client)
        nursery.cancel_scope.cancel()
    assert transcript.count(b"+OK\r\n") == noops
    # the session let the watcher in every UNCHECKED_COMMANDS commands (trio's scheduler
    # shuffles each batch, so the watcher sees the count after some of those turns only)
    assert UNCHECKED_COMMANDS <= 32
    assert len({n for n in seen if 2 < n < noops}) >= 10


class _WrappedStore:
    """A store that does what ``inner`` does, but for what a subclass changes."""

    def __init__(self, inner: MessageStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class _SlowStreamStore(_WrappedStore):
    """A folder store whose messages take 30 s to start (autojump clock)."""

    async def stream(
        self, key: str, *, first_chunk: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        await trio.sleep(30)
        async for chunk in self.inner.stream(key, first_chunk=first_chunk):
            yield chunk


async def test_the_idle_deadline_applies_to_waits_not_to_a_long_command(
    tmp_path: Path, autojump_clock: object
) -> None:
    handler = _handler(tmp_path, login_timeout=5, idle_timeout=10)

    def slow_store(location: Location) -> MessageStore:
        return cast(MessageStore, _SlowStreamStore(open_store(location)))

    handler.deps = replace(handler.deps, open_store=slow_store)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await _reply(client, multiline=False)
        await client.send_all(b"USER u\r\nPASS p\r\n")
        await _reply(client, multiline=False)
        await _reply(client, multiline=False)
        start = trio.current_time()
        await client.send_all(b"RETR 1\r\n")
        retr = await _reply(client, multiline=True)
        assert trio.current_time() - start == pytest.approx(30)  # longer than login and idle
        await client.send_all(b"NOOP\r\n")
        assert await _reply(client, multiline=False) == b"+OK\r\n"
        start = trio.current_time()
        rest = await read_all(client)
        assert trio.current_time() - start == pytest.approx(10)
    assert retr.startswith(b"+OK") and retr.endswith(b"\r\n..dot line\r\n.\r\n")
    assert rest.startswith(b"-ERR autologout")


async def _tcp_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    """A connected client and server over loopback TCP."""
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    async with listener:
        client = await trio.open_tcp_stream("127.0.0.1", port)
        return client, await listener.accept()


def _unread(sock: trio.socket.SocketType) -> int:
    """Octets the kernel holds for ``sock`` that were not read yet (FIONREAD)."""
    raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    return int(struct.unpack("i", raw)[0])


async def test_a_flood_of_bytes_without_commands_lets_other_tasks_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An over-long line that never ends is read without waiting (``sockio.read_now``) and makes
    no command: those reads count toward ``UNCHECKED_COMMANDS`` too, so the session lets other
    tasks (other sessions, the admin app) run while reading it. Real sockets: the input is
    already in the kernel when the session starts."""
    monkeypatch.setattr(inbox, "RECEIVE_SIZE", 4096)  # many reads out of what the kernel holds
    handler = _handler(tmp_path)
    client, server = await _tcp_pair()
    filled = 0
    with contextlib.suppress(BlockingIOError):  # as much as the kernel holds
        while True:
            filled += os.write(client.socket.fileno(), b"x" * 65536)
    assert filled >= 32 * 4096
    seen_unread = -1
    async with client, trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain", False, "127.0.0.1:1")
        while not any(s.commands for s in handler.deps.registry.snapshots()):
            await trio.lowlevel.checkpoint()
        # the first turn of this task once the session began reading ("-ERR line too long")
        seen_unread = _unread(server.socket)
        nursery.cancel_scope.cancel()
    assert seen_unread > 0, "the session read all of its input without a schedule point"


class _BreaksOnM2Store(_WrappedStore):
    """A folder store whose message ``m2`` fails after its first chunk (a store gone mid-body)."""

    async def stream(
        self, key: str, *, first_chunk: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        async for chunk in self.inner.stream(key, first_chunk=first_chunk):
            yield chunk
            if key == "m2":
                raise StoreUnavailable("the store went away")


async def test_replies_held_for_pipelined_commands_are_sent_when_a_body_breaks(
    tmp_path: Path,
) -> None:
    """RETR 1 answered whole, then RETR 2's body fails mid-way and the connection is cut: the
    replies held for the commands before (pipelined) still go out first, as one at a time."""
    handler = _handler(tmp_path)

    def breaking_store(location: Location) -> MessageStore:
        return cast(MessageStore, _BreaksOnM2Store(open_store(location)))

    handler.deps = replace(handler.deps, open_store=breaking_store)
    client, server = await _tcp_pair()
    async with client, trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain", False, "127.0.0.1:1")
        await client.send_all(b"USER u\r\nPASS p\r\nRETR 1\r\nRETR 2\r\n")
        with trio.fail_after(10):
            transcript = await read_all(client)
    assert transcript.count(b"+OK") == 5  # greeting, USER, PASS, RETR 1, RETR 2's status line
    assert b"\r\n..dot line\r\n.\r\n" in transcript  # message 1, whole
