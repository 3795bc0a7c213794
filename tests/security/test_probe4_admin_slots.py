"""Security probe 4: clients that do not read their responses cannot hold the admin app.

``/metrics`` is open and 31 KB long; sent to a client with a 1 KB receive window that never
reads, Hypercorn's write waited for ever (no deadline) and the connection kept its admin slot:
300 such clients from one host held every slot and /healthz stopped answering (issue 13 left
this as a caveat). Each write now has ``SEND_TIMEOUT``, and one client address may hold a
quarter of the admin connection cap, so other addresses are served meanwhile."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

import admin.serve
from pop3srv.fdlimits import ADMIN_MAX
from tests.admin.test_live_server import start_with_admin
from tests.conftest import RunningServer

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture
async def live(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_with_admin(nursery, tmp_path)
    yield server
    server.shutdown.set()


async def _non_reader(host: str, port: int) -> trio.SocketStream:
    """A connection with a tiny receive window that asks for /metrics and reads nothing."""
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    await sock.connect((host, port))
    stream = trio.SocketStream(sock)
    await stream.send_all(REQUEST)
    return stream


async def _drain(stream: trio.SocketStream) -> bytes:
    data = b""
    with trio.move_on_after(10):
        try:
            while chunk := await stream.receive_some(65536):
                data += chunk
        except trio.BrokenResourceError:  # reset: the server dropped it
            pass
    return data


async def test_a_client_that_does_not_read_is_dropped(
    live: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin.serve, "SEND_TIMEOUT", 0.5)
    host, port = live.bound.admin[0]
    stream = await _non_reader(host, port)
    await trio.sleep(2)  # well past the send deadline, reading nothing
    data = await _drain(stream)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    assert len(body) < length, "the whole response waited for the client"
    await stream.aclose()


async def test_one_address_cannot_take_every_admin_slot(live: RunningServer) -> None:
    host, port = live.bound.admin[0]
    streams = [await _non_reader(host, port) for _ in range(ADMIN_MAX + 20)]
    try:
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(transport=transport, timeout=3) as http:
            response = await http.get(f"http://{host}:{port}/healthz")
        assert response.status_code == 200
    finally:
        for stream in streams:
            await trio.aclose_forcefully(stream)
