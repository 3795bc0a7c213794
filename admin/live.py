"""``WS /api/sessions/live``: a JSON snapshot, then one message per session change.

Messages (text frames, JSON):

- ``{"type": "snapshot", "sessions": [session, ...]}`` first, and again after a backlog overflow
- ``{"type": "open" | "update", "session": session}``
- ``{"type": "close", "id": "s7"}``

Changes come from ``SessionRegistry.watch``. Counters the transport bumps without notifying
(commands, bytes sent, last activity) are compared every ``AdminDeps.live_refresh`` seconds and
sent as ``update`` messages when they moved. On shutdown the socket is closed with 1001 (going
away). A feed opened with the UI's session cookie ends (1008) within a refresh of that session's
end (logout, expiry), so a tab left open after "log out" stops showing the sessions.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import trio
from quart import Quart, Response, websocket

from admin.api import session_json
from admin.auth import SESSION_COOKIE
from admin.deps import AdminContext
from admin.guards import websocket_denied
from pop3srv.registry import SessionRegistry, SessionSnapshot

MAX_BACKLOG = 1000
GOING_AWAY = 1001
POLICY_VIOLATION = 1008


class SessionFeed:
    """Registry changes for one websocket, buffered between sends.

    Subscribing and taking the first snapshot happen in one synchronous step, so no change is
    lost or duplicated. A client too slow for ``MAX_BACKLOG`` changes gets a fresh snapshot.
    """

    def __init__(
        self, registry: SessionRegistry, refresh: float, max_backlog: int = MAX_BACKLOG
    ) -> None:
        self._registry = registry
        self._refresh = refresh
        self._max_backlog = max_backlog
        self._pending: deque[dict[str, Any]] = deque()
        self._resync = False
        self._wake = trio.Event()
        self._sent: dict[str, SessionSnapshot] = {}
        self._unsubscribe = registry.watch(self._on_change)
        self._pending.append(self._snapshot())

    def close(self) -> None:
        self._unsubscribe()

    async def next_messages(self) -> list[dict[str, Any]]:
        """Wait for changes (at most the refresh interval), then return what to send."""
        if not self._pending and not self._resync:
            with trio.move_on_after(self._refresh):
                await self._wake.wait()
        self._wake = trio.Event()
        if self._resync:
            self._resync = False
            self._pending.clear()
            self._pending.append(self._snapshot())
        if not self._pending:
            return self._counter_updates()
        messages = list(self._pending)
        self._pending.clear()
        return messages

    def _snapshot(self) -> dict[str, Any]:
        snapshots = self._registry.snapshots()
        self._sent = {s.id: s for s in snapshots}
        return {"type": "snapshot", "sessions": [session_json(s) for s in snapshots]}

    def _on_change(self, kind: str, snapshot: SessionSnapshot | None, session_id: str) -> None:
        if snapshot is None:
            self._sent.pop(session_id, None)
            message: dict[str, Any] = {"type": "close", "id": session_id}
        else:
            self._sent[session_id] = snapshot
            message = {"type": kind, "session": session_json(snapshot)}
        if len(self._pending) >= self._max_backlog:
            self._resync = True
        else:
            self._pending.append(message)
        self._wake.set()

    def _counter_updates(self) -> list[dict[str, Any]]:
        messages = []
        for current in self._registry.snapshots():
            if self._sent.get(current.id) != current:
                self._sent[current.id] = current
                messages.append({"type": "update", "session": session_json(current)})
        return messages


def register(app: Quart, ctx: AdminContext) -> None:
    @app.websocket("/api/sessions/live")
    async def live_sessions() -> Response | None:
        if (denied := websocket_denied(ctx)) is not None:
            return denied
        # None: opened with the bearer token; else the UI session the feed lives as long as
        bearer = "Authorization" in websocket.headers
        cookie = None if bearer else websocket.cookies.get(SESSION_COOKIE)
        feed = SessionFeed(ctx.deps.registry, ctx.deps.live_refresh)
        gauge = ctx.deps.metrics.admin_live_clients
        gauge.inc()
        try:
            await websocket.accept()
            ended = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_discard_input)
                nursery.start_soon(_pump, feed)
                if cookie is not None:
                    nursery.start_soon(_watch_session, ctx, cookie, ended, nursery.cancel_scope)
                await ctx.closing.wait()
                nursery.cancel_scope.cancel()
            if ended.is_set():
                await websocket.close(POLICY_VIOLATION, "admin session ended")
            else:
                await websocket.close(GOING_AWAY, "server shutting down")
        finally:
            feed.close()
            gauge.dec()
        return None


async def _watch_session(
    ctx: AdminContext, cookie: str, ended: trio.Event, feed_scope: trio.CancelScope
) -> None:
    """End the feed once the UI session behind ``cookie`` is gone (logged out, expired)."""
    while ctx.sessions.get(cookie) is not None:
        await trio.sleep(ctx.deps.live_refresh)
    ended.set()
    feed_scope.cancel()


async def _pump(feed: SessionFeed) -> None:
    while True:
        for message in await feed.next_messages():
            await websocket.send(json.dumps(message))


async def _discard_input() -> None:
    """Read (and ignore) what the client sends, so its messages never back up."""
    while True:
        await websocket.receive()
