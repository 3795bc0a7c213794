"""A small client of the admin API for ``pop3srv sessions``: httpx for ``GET /api/sessions``,
trio-websocket for ``/api/sessions/live``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from trio_websocket import open_websocket_url

from pop3srv.netaddr import hostport

COLUMNS = (
    ("ID", "id"),
    ("PEER", "peer"),
    ("LISTENER", "listener"),
    ("USER", "user"),
    ("MAILBOX", "mailbox"),
    ("STATE", "state"),
    ("SINCE", "since"),
    ("CMDS", "commands"),
    ("BYTES", "bytes_sent"),
)


class AdminApiError(Exception):
    """The admin API answered with an error (message from its JSON body)."""


def admin_url(host: str, port: int) -> str:
    """The base URL of a local admin app bound to ``host:port``."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{hostport(host, port)}"


def live_url(base: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/") + "/api/sessions/live"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


async def fetch_sessions(base: str, token: str, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=timeout) as client:
        response = await client.get(
            base.rstrip("/") + "/api/sessions", headers={"Authorization": f"Bearer {token}"}
        )
    if response.status_code != 200:
        raise AdminApiError(_error_of(response))
    sessions = response.json()
    assert isinstance(sessions, list)
    return sessions


async def follow_sessions(
    base: str, token: str, emit: Callable[[dict[str, Any]], None], *, timeout: float = 10.0
) -> None:
    """Call ``emit`` with each message of the live websocket until the server closes it."""
    headers = [(b"authorization", f"Bearer {token}".encode())]
    async with open_websocket_url(
        live_url(base), extra_headers=headers, connect_timeout=timeout
    ) as socket:
        while True:
            message = json.loads(await socket.get_message())
            emit(message)


async def kick_sessions(
    base: str,
    token: str,
    *,
    session_id: str | None = None,
    mailbox: str | None = None,
    timeout: float = 10.0,
) -> list[str]:
    """End one session (by id) or every session of a mailbox; the ids ended."""
    root = base.rstrip("/") + "/api/sessions"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=timeout) as client:
        if session_id is not None:
            response = await client.delete(f"{root}/{quote(session_id, safe='')}", headers=headers)
        else:
            response = await client.delete(root, params={"mailbox": mailbox}, headers=headers)
    if response.status_code != 200:
        raise AdminApiError(_error_of(response))
    answer = response.json()
    return [session_id] if session_id is not None else list(answer["ended"])


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("error") if isinstance(body, dict) else response.reason_phrase
    return f"HTTP {response.status_code}: {detail}"


def _value(session: Mapping[str, Any], key: str) -> str:
    value = session.get(key)
    if value is None:
        return "-"
    if key == "since":
        return time.strftime("%H:%M:%S", time.localtime(float(value)))
    return str(value)


def _printable(text: str) -> str:
    """User names are chosen by clients: never let control characters reach the terminal."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def format_table(sessions: Sequence[Mapping[str, Any]]) -> str:
    rows = [[title for title, _ in COLUMNS]]
    rows += [[_printable(_value(s, key)) for _, key in COLUMNS] for s in sessions]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def format_event(message: Mapping[str, Any]) -> str:
    """One line per live message (the snapshot as a table)."""
    kind = message.get("type")
    if kind == "snapshot":
        sessions = message.get("sessions", [])
        return format_table(sessions) if sessions else "(no live sessions)"
    if kind == "close":
        return f"close   {message.get('id')}"
    session = message.get("session", {})
    fields = " ".join(f"{key}={_printable(_value(session, key))}" for _, key in COLUMNS[1:])
    return f"{kind:<7} {session.get('id')} {fields}"
