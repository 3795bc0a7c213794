"""Brute-force defence through the whole transport: a burst of wrong passwords from one address
is slowed and cut off, while a correct login from another address is not (autojump clock)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import trio
import trio.testing
from prometheus_client import CollectorRegistry

from pop3srv.admission import LoginSlots
from pop3srv.auth.base import AuthFailed, LoginContext, Principal
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.auth.static import StaticAuthenticator
from pop3srv.config import PenaltySettings
from pop3srv.metrics import create_metrics
from pop3srv.registry import SessionRegistry
from pop3srv.service import open_store
from pop3srv.session import SessionDeps
from pop3srv.storage.base import FolderLocation
from pop3srv.transport import ConnectionHandler, TransportLimits
from tests.security.support import guess
from tests.test_transport import read_line

ATTACKER = "192.0.2.66:40000"
USER_PEER = "198.51.100.7:40000"


def _handler(tmp_path: Path) -> ConnectionHandler:
    deps = SessionDeps(
        StaticAuthenticator.single("u", "right", FolderLocation(tmp_path)),
        open_store,
        SessionRegistry(),
        create_metrics(CollectorRegistry()),
        penalty=LoginPenalty(PenaltySettings(free_failures=2, start=1, maximum=15)),
    )
    limits = TransportLimits(allow_insecure_auth=True, max_auth_failures=3)
    return ConnectionHandler(deps, limits, None)


async def _attempt(handler: ConnectionHandler, peer: str, password: str) -> tuple[bytes, float]:
    """One connection, one login; returns the PASS reply and how long it took."""
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain", False, peer)
        await read_line(client)
        await client.send_all(b"USER u\r\n")
        await read_line(client)
        start = trio.current_time()
        await client.send_all(f"PASS {password}\r\n".encode())
        reply = await read_line(client)
        elapsed = trio.current_time() - start
        await client.send_all(b"QUIT\r\n")
        await read_line(client)
    return reply, elapsed


async def test_burst_from_one_address_is_slowed_others_are_not(
    tmp_path: Path, autojump_clock: object
) -> None:
    handler = _handler(tmp_path)
    delays = []
    for _ in range(7):
        reply, elapsed = await _attempt(handler, ATTACKER, "wrong")
        assert reply.startswith(b"-ERR [AUTH]")
        delays.append(round(elapsed))
    assert delays == [0, 0, 0, 1, 2, 4, 8]
    reply, elapsed = await _attempt(handler, USER_PEER, "right")
    assert reply.startswith(b"+OK")
    assert elapsed <= 4  # the user name's own delay is capped low: slowed, never locked out
    reply, elapsed = await _attempt(handler, ATTACKER, "right")  # the attacker's address waits
    assert reply.startswith(b"+OK")
    assert round(elapsed) == 15


async def test_connection_closed_after_max_auth_failures(
    tmp_path: Path, autojump_clock: object
) -> None:
    handler = _handler(tmp_path)
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(handler.serve_stream, server, "plain", False, ATTACKER)
        await read_line(client)
        await client.send_all(b"USER u\r\nPASS a\r\nUSER u\r\nPASS b\r\nUSER u\r\nPASS c\r\n")
        transcript = b""
        while chunk := await client.receive_some():
            transcript += chunk
    assert transcript.count(b"-ERR [AUTH]") == 3
    assert transcript.endswith(b"-ERR [AUTH] invalid user name or password\r\n")


class _SlowAuthenticator:
    """Takes 10 s per check (autojump clock): logins pile up while it works."""

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        await trio.sleep(10)
        raise AuthFailed("invalid user name or password")


async def test_parallel_logins_for_one_user_are_capped(
    tmp_path: Path, autojump_clock: object
) -> None:
    handler = _handler(tmp_path)
    handler.deps = replace(
        handler.deps,
        authenticator=_SlowAuthenticator(),
        logins=LoginSlots(2),
    )
    replies: list[bytes] = []

    async with trio.open_nursery() as nursery:
        for index in range(5):  # slots count per (user, address)
            nursery.start_soon(guess, handler, f"192.0.2.1:{index}", "victim", replies)
    assert sorted(reply[:11] for reply in replies) == [b"-ERR [AUTH]"] * 2 + [b"-ERR [SYS/T"] * 3
    limited = handler.deps.metrics.auth_attempts_total.labels("user", "limited")
    assert limited._value.get() == 3
