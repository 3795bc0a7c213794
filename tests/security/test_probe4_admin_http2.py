"""Security probe 4: the admin app speaks HTTP/1.1 only.

Hypercorn stopped a connection's idle timer at the HTTP/2 preface and never restarted it
without a stream, so idle HTTP/2 connections (33 bytes each, prior knowledge) were never
closed: 300 of them held every admin slot and /healthz, /metrics and the API stopped answering
until the attacker left (a liveness probe then restarts the pod). A connection that switches to
HTTP/2 is now closed at once; HTTP/1.1 clients are unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from pop3srv.fdlimits import ADMIN_MAX
from tests.admin.test_live_server import admin_base, start_with_admin
from tests.conftest import RunningServer

#: the HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113, section 3.4)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
H2C_UPGRADE = (
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
)


@pytest.fixture
async def live(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_with_admin(nursery, tmp_path)
    yield server
    server.shutdown.set()


async def _closed_within(stream: trio.SocketStream, seconds: float) -> bool:
    """Whether the server closes the connection within ``seconds`` (what it sent is read)."""
    with trio.move_on_after(seconds):
        while await stream.receive_some(65536):
            pass
        return True
    return False


async def test_http2_prior_knowledge_is_closed_at_once(live: RunningServer) -> None:
    host, port = live.bound.admin[0]
    stream = await trio.open_tcp_stream(host, port)
    await stream.send_all(PREFACE)
    assert await _closed_within(stream, 2), "idle HTTP/2 connection left open"
    await stream.aclose()


async def test_h2c_upgrade_is_not_followed(live: RunningServer) -> None:
    host, port = live.bound.admin[0]
    stream = await trio.open_tcp_stream(host, port)
    await stream.send_all(H2C_UPGRADE + PREFACE)
    assert await _closed_within(stream, 2), "h2c connection left open"
    await stream.aclose()


async def test_idle_http2_connections_cannot_hold_the_admin_slots(live: RunningServer) -> None:
    host, port = live.bound.admin[0]
    streams = []
    try:
        for _ in range(ADMIN_MAX + 20):  # more than the admin app's connection cap
            stream = await trio.open_tcp_stream(host, port)
            await stream.send_all(PREFACE)
            streams.append(stream)
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(admin_base(live) + "/healthz")
        assert response.status_code == 200
    finally:
        for stream in streams:
            await stream.aclose()
