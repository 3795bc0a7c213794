"""Security probe 4: the admin security view shows failed logins' user names (client-chosen,
any UTF-8 after ``UTF8``) with control, bidi and zero-width characters as escapes, as the
session list does since issue 13 (item 17). Before, a name with U+202E (right-to-left
override) reached the console as is and displayed reversed ("exe.png" for "gnp.exe")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.admin.conftest import BEARER
from tests.admin.test_live_server import admin_base, start_with_admin
from tests.conftest import RunningServer

NAME = "invoice\u202egnp.exe\u200b"


@pytest.fixture
async def live(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_with_admin(nursery, tmp_path)
    yield server
    server.shutdown.set()


async def _failed_login(port: int) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    received = b""
    await stream.send_all(b"UTF8\r\n" + f"USER {NAME}\r\nPASS wrong\r\n".encode())
    with trio.fail_after(10):
        while received.count(b"\r\n") < 4:
            received += await stream.receive_some(4096)
    await stream.aclose()
    assert received.splitlines()[-1].startswith(b"-ERR [AUTH]"), received


async def test_failed_login_names_are_shown_escaped(live: RunningServer) -> None:
    await _failed_login(live.plain_port)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(admin_base(live) + "/api/security", headers=BEARER)
    [failure] = response.json()["failed_logins"]
    assert failure["user"] == "invoice\\u202egnp.exe\\u200b"
