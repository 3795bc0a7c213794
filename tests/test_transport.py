"""The transport loop on memory streams with trio's autojump clock: timeouts, drain, kick."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
import trio
import trio.testing
from prometheus_client import CollectorRegistry

from pop3srv.auth.static import StaticAuthenticator
from pop3srv.metrics import create_metrics
from pop3srv.registry import SessionRegistry
from pop3srv.service import open_store
from pop3srv.session import SessionDeps
from pop3srv.storage.base import FolderLocation, Location, MessageStore
from pop3srv.transport import ConnectionHandler, TransportLimits, is_loopback


def _handler(tmp_path: Path, **limits: float) -> ConnectionHandler:
    (tmp_path / "m1").write_bytes(b"Subject: one\r\n\r\nbody\r\n")
    return folder_handler(tmp_path, **limits)


def folder_handler(folder: Path, **limits: float) -> ConnectionHandler:
    """A connection handler serving ``folder`` to the user ``u`` (password ``p``)."""
    deps = SessionDeps(
        StaticAuthenticator.single("u", "p", FolderLocation(folder)),
        open_store,
        SessionRegistry(),
        create_metrics(CollectorRegistry()),
    )
    return ConnectionHandler(deps, TransportLimits(**limits), None)  # type: ignore[arg-type]


async def read_all(stream: trio.abc.Stream) -> bytes:
    """Everything the server sends until it closes the stream."""
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    return data


async def read_line(stream: trio.abc.Stream) -> bytes:
    """One line from the server, its LF included (read an octet at a time: nothing after it)."""
    data = b""
    while not data.endswith(b"\n"):
        data += await stream.receive_some(1)
    return data


async def test_login_timeout_autologout(tmp_path: Path, autojump_clock: object) -> None:
    handler = _handler(tmp_path, login_timeout=60, idle_timeout=600)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        assert (await read_line(client)).startswith(b"+OK")
        start = trio.current_time()
        rest = await read_all(client)
        assert trio.current_time() - start == pytest.approx(60)
    assert rest.startswith(b"-ERR autologout")


async def test_idle_timeout_after_login_is_longer(tmp_path: Path, autojump_clock: object) -> None:
    handler = _handler(tmp_path, login_timeout=60, idle_timeout=600)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await read_line(client)
        await client.send_all(b"USER u\r\nPASS p\r\nDELE 1\r\n")
        for _ in range(3):
            assert (await read_line(client)).startswith(b"+OK")
        start = trio.current_time()
        rest = await read_all(client)
        assert trio.current_time() - start == pytest.approx(600)
    assert rest.startswith(b"-ERR autologout")
    assert (tmp_path / "m1").exists(), "a timed-out session commits nothing"


async def test_drain_tells_waiting_sessions_and_closes(
    tmp_path: Path, autojump_clock: object
) -> None:
    handler = _handler(tmp_path)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await read_line(client)
        handler.deps.registry.drain()
        rest = await read_all(client)
    assert rest == b"-ERR [SYS/TEMP] server shutting down, try again later\r\n"


async def test_kick_ends_the_session_without_committing(tmp_path: Path) -> None:
    handler = _handler(tmp_path)
    client, server = trio.testing.memory_stream_pair()
    registry = handler.deps.registry
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await read_line(client)
        await client.send_all(b"USER u\r\nPASS p\r\nDELE 1\r\n")
        for _ in range(3):
            await read_line(client)
        (snapshot,) = registry.snapshots()
        assert snapshot.user == "u"
        assert registry.kick(snapshot.id)
        assert await read_all(client) == b""
    assert len(registry) == 0
    assert (tmp_path / "m1").exists()


async def test_connection_cap_refuses_extra_connections(tmp_path: Path) -> None:
    handler = _handler(tmp_path, max_connections=1)
    first_client, first_server = trio.testing.memory_stream_pair()
    second_client, second_server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, first_server, "plain")
        await read_line(first_client)
        nursery.start_soon(handler.serve_stream, second_server, "plain")
        assert (await read_all(second_client)).startswith(b"-ERR [SYS/TEMP] too many")
        await first_client.send_all(b"QUIT\r\n")
        assert (await read_all(first_client)).startswith(b"+OK")


async def test_remote_plaintext_peer_gets_no_user_and_auth_is_refused(tmp_path: Path) -> None:
    handler = _handler(tmp_path)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain", False, "192.0.2.7:40000")
        await read_line(client)
        await client.send_all(
            b"CAPA\r\nUSER u\r\nAUTH PLAIN AHUAcA==\r\nAUTH LOGIN\r\nUTF8\r\nQUIT\r\n"
        )
        transcript = await read_all(client)
    capa = transcript.split(b".\r\n")[0]
    assert b"USER" not in capa
    assert b"SASL" not in capa
    assert b"\r\nUTF8\r\n" in capa  # UTF-8 mode without credentials in plaintext
    assert transcript.count(b"-ERR [AUTH] Plaintext authentication disallowed") == 3
    assert b"+OK UTF-8" in transcript


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        ("127.0.0.1:1", True),
        ("127.8.9.1:1", True),
        ("[::1]:1", True),
        ("[::ffff:127.0.0.1]:1", True),
        ("10.0.0.1:1", False),
        ("[2001:db8::1]:1", False),
    ],
)
def test_loopback_detection(peer: str, loopback: bool) -> None:
    assert is_loopback(peer) is loopback


class _SlowDeleteStore:
    """A folder store whose delete takes 30 s (autojump clock) and records completion."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.deleted: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def delete(self, keys: list[str], **conditions: object) -> object:
        await trio.sleep(30)
        result = await self.inner.delete(keys, **conditions)  # type: ignore[attr-defined]
        self.deleted.extend(keys)
        return result


async def test_quit_commit_is_not_cut_by_cancellation(
    tmp_path: Path, autojump_clock: object
) -> None:
    stores: list[_SlowDeleteStore] = []

    def slow_store(location: Location) -> MessageStore:
        stores.append(_SlowDeleteStore(open_store(location)))
        return cast(MessageStore, stores[-1])

    handler = _handler(tmp_path)
    handler.deps = replace(handler.deps, open_store=slow_store)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await read_line(client)
        await client.send_all(b"USER u\r\nPASS p\r\nDELE 1\r\nQUIT\r\n")
        for _ in range(3):
            await read_line(client)
        await trio.sleep(1)  # the commit is under way
        nursery.cancel_scope.cancel()  # e.g. the shutdown deadline passing
    assert stores[0].deleted == ["m1"]
    assert not (tmp_path / "m1").exists()


async def test_per_address_cap_refuses_only_that_address(tmp_path: Path) -> None:
    handler = _handler(tmp_path, max_connections_per_ip=2)
    pairs = [trio.testing.memory_stream_pair() for _ in range(4)]
    peers = ["192.0.2.1:1", "192.0.2.1:2", "192.0.2.1:3", "192.0.2.9:1"]
    replies = []
    async with trio.open_nursery() as nursery:
        for (client, server), peer in zip(pairs, peers, strict=True):
            nursery.start_soon(handler.serve_stream, server, "plain", False, peer)
            replies.append(await read_line(client))
        for client, _server in (pairs[0], pairs[1], pairs[3]):
            await client.send_all(b"QUIT\r\n")
    assert [reply[:3] for reply in replies] == [b"+OK", b"+OK", b"-ER", b"+OK"]
    assert (
        replies[2] == b"-ERR [SYS/TEMP] too many connections from your address, try again later\r\n"
    )
    assert handler.admission.total == 0


async def test_login_deadline_is_not_extended_by_trickling(
    tmp_path: Path, autojump_clock: object
) -> None:
    handler = _handler(tmp_path, login_timeout=60, idle_timeout=600)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain")
        await read_line(client)
        start = trio.current_time()
        for _ in range(5):  # a byte every 10 s: a slowloris that never finishes a line
            await trio.sleep(10)
            await client.send_all(b"N")
        rest = await read_all(client)
        assert trio.current_time() - start == pytest.approx(60)
    assert rest.startswith(b"-ERR autologout")


async def test_a_client_that_never_reads_cannot_outstay_the_login_deadline(
    tmp_path: Path, autojump_clock: object
) -> None:
    handler = _handler(tmp_path, login_timeout=60, idle_timeout=600)
    client, server = trio.testing.lockstep_stream_pair()  # writes block until read
    ended: list[float] = []

    async def serve() -> None:
        await handler.serve_stream(server, "plain")
        ended.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        start = trio.current_time()
        nursery.start_soon(serve)
        await client.receive_some(100)  # the greeting; then never read again
        await client.send_all(b"CAPA\r\n")
        await trio.sleep(1000)
        nursery.cancel_scope.cancel()
    assert ended, "the server gave up on the connection"
    assert ended[0] - start <= 60 + 2  # the login deadline (+ the short goodbye bound)


async def test_a_client_flooding_commands_cannot_outstay_the_login_deadline(
    tmp_path: Path,
) -> None:
    """Commands always waiting are read without waiting (no cancel scope, ``sockio.read_now``):
    the login deadline is still enforced on that path. Real sockets, real time."""
    handler = _handler(tmp_path, login_timeout=0.5, idle_timeout=600)
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    async with listener:
        client = await trio.open_tcp_stream("127.0.0.1", port)
        server = await listener.accept()
    received = bytearray()
    start = trio.current_time()

    async def flood() -> None:
        batch = b"CAPA\r\n" * 2000
        with trio.move_on_after(10):
            try:
                while True:
                    await client.send_all(batch)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    async with client, trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain", False, "127.0.0.1:1")
        nursery.start_soon(flood)
        with trio.move_on_after(10):
            try:  # the server may close with commands unread: a reset
                while chunk := await client.receive_some(1 << 20):
                    received += chunk
            except trio.BrokenResourceError:
                pass
        nursery.cancel_scope.cancel()
    assert trio.current_time() - start < 5  # ended by the deadline, not by the flood's end
    assert received.startswith(b"+OK") and b"CAPA" not in received[:5]
    outcomes = {
        sample.labels["outcome"]: sample.value
        for metric in handler.deps.metrics.sessions_total.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    assert outcomes.get("timeout") == 1
