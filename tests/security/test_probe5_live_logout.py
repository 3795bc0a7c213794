"""Probe 5: the live websocket outlived the UI session it was opened with.

The cookie was checked once, at the handshake: after the operator logged out (or the session
expired, or was pushed out by newer ones), an open ``/api/sessions/live`` kept streaming every
POP3 session (user, peer, mailbox) for as long as the socket lived - e.g. a tab left open on a
shared machine after "log out". Now the feed ends (1008) within a refresh of the session's end.
"""

from __future__ import annotations

import pytest
import trio
from quart.testing.connections import WebsocketDisconnectError

from admin.deps import admin_context
from tests.admin.conftest import Harness
from tests.admin.test_ui import ORIGIN, LoggedIn, logged_in

__all__ = ["logged_in"]

POLICY_VIOLATION = 1008


async def _open_feed_then(logged_in: LoggedIn, end_session: str) -> None:
    client = logged_in.client
    headers = {**logged_in.headers, "Origin": ORIGIN}
    async with client.websocket("/api/sessions/live", headers=headers) as ws:
        assert (await ws.receive_json())["type"] == "snapshot"
        if end_session == "logout":
            form = {"csrf": logged_in.csrf}
            response = await client.post("/logout", form=form, headers=logged_in.headers)
            assert response.status_code == 303
        with trio.fail_after(5), pytest.raises(WebsocketDisconnectError) as closed:
            while True:
                await ws.receive()
        assert closed.value.args[0] == POLICY_VIOLATION


async def test_logout_ends_the_live_feed(harness: Harness, logged_in: LoggedIn) -> None:
    await _open_feed_then(logged_in, "logout")


async def test_an_expired_session_ends_the_live_feed(harness: Harness, logged_in: LoggedIn) -> None:
    sessions = admin_context(harness.app).sessions
    async with trio.open_nursery() as nursery:

        async def expire() -> None:
            await trio.sleep(0.3)
            for session in list(sessions._sessions.values()):
                session.expires = 0

        nursery.start_soon(expire)
        await _open_feed_then(logged_in, "expiry")
