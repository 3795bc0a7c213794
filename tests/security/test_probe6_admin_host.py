"""Probe 6: a Host header that is not a URL authority (``[x``, ``a]b``) made the Host check
raise ``ValueError`` (urlsplit: "Invalid IPv6 URL"): every such request, without any credential,
was answered 500 with a 30-line ERROR traceback in the log (log flooding, false alarms). It is
an unknown Host now: 421, no traceback. Over a real socket to the running server (Quart's test
client cannot even send such a Host)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.admin.conftest import ADMIN_TOKEN
from tests.admin.test_live_server import start_with_admin
from tests.conftest import RunningServer

MALFORMED = ["[abc", "a]b", "[", "]", "[v1.x"]


@pytest.fixture
async def live(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_with_admin(nursery, tmp_path)
    yield server
    server.shutdown.set()


async def _status(server: RunningServer, request: bytes) -> int:
    host, port = server.bound.admin[0]
    stream = await trio.open_tcp_stream(host, port)
    try:
        await stream.send_all(request)
        data = b""
        with trio.fail_after(5):
            while b"\r\n" not in data:
                chunk = await stream.receive_some(4096)
                assert chunk, "closed without a status line"
                data += chunk
    finally:
        await stream.aclose()
    return int(data.split(b" ", 2)[1])


async def test_a_malformed_host_is_refused_without_a_traceback(
    live: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    auth = f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
    with caplog.at_level(logging.ERROR):
        for host in MALFORMED:
            head = f"Host: {host}\r\n"
            metrics = f"GET /metrics HTTP/1.1\r\n{head}Connection: close\r\n\r\n"
            api = f"GET /api/sessions HTTP/1.1\r\n{head}{auth}Connection: close\r\n\r\n"
            live_feed = (
                f"GET /api/sessions/live HTTP/1.1\r\n{head}{auth}Connection: Upgrade\r\n"
                "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            probe = f"GET /healthz HTTP/1.1\r\n{head}Connection: close\r\n\r\n"
            assert await _status(live, metrics.encode()) == 421, host
            assert await _status(live, api.encode()) == 421, host
            assert await _status(live, live_feed.encode()) == 421, host
            assert await _status(live, probe.encode()) == 200, host
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
