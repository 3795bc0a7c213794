"""The ring of recent failed logins (the security view): bounded, newest first, user names
clipped; a session records each refused login in it with the refusal's reason class, never the
password."""

from __future__ import annotations

import base64

from prometheus_client import CollectorRegistry

from pop3srv.auth.base import AuthFailed, LoginContext, Principal
from pop3srv.auth.failures import MAX_USER, FailedLogins
from pop3srv.metrics import create_metrics
from pop3srv.protocol import events as ev
from pop3srv.protocol.connection import Connection
from pop3srv.registry import SessionRegistry
from pop3srv.session import Session, SessionDeps, SessionPolicy
from pop3srv.storage.memory import demo_store


def test_ring_is_bounded_newest_first_and_clips_users() -> None:
    failures = FailedLogins(size=2, clock=iter(range(10)).__next__)
    failures.record("192.0.2.1", "a", "user", "bad-credentials")
    failures.record("192.0.2.2", "b", "plain", "revoked")
    failures.record("192.0.2.3", "x" * 500, "user", "malformed")
    newest, older = failures.recent()
    assert (newest.address, len(newest.user), older.user) == ("192.0.2.3", MAX_USER, "b")
    assert newest.public() == {
        "time": 2,
        "address": "192.0.2.3",
        "user": newest.user,
        "method": "user",
        "reason": "malformed",
    }


class _Refuses:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        raise self.error


async def test_sessions_record_refusals_with_their_reason() -> None:
    """A refused login lands in the ring with the address (not the port), the user name, the
    POP3 method and the reason class; never the password."""
    failed = FailedLogins()
    deps = SessionDeps(
        _Refuses(AuthFailed(reason="revoked")),
        open_store=lambda location: demo_store(),
        registry=SessionRegistry(),
        metrics=create_metrics(CollectorRegistry()),
        failed_logins=failed,
    )
    with deps.registry.session("192.0.2.9:5000", "plain") as record:
        policy = SessionPolicy(plaintext_auth_allowed=True, context=LoginContext("192.0.2.9:5000"))
        connection = Connection(stls_available=False, is_tls=True)
        session = Session(connection, deps, policy, record)
        out = _Outbox()
        await session.handle(ev.Auth(mechanism="PLAIN", initial_response=_plain("eve", "pw")), out)
    [failure] = failed.recent()
    assert (failure.address, failure.user, failure.method) == ("192.0.2.9", "eve", "plain")
    assert failure.reason == "revoked"
    assert "pw" not in repr(failure) and out.sent and isinstance(out.sent[0], ev.Err)


class _Outbox:
    def __init__(self) -> None:
        self.sent: list[object] = []

    async def send(self, reply: object) -> None:
        self.sent.append(reply)


def _plain(user: str, password: str) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()
