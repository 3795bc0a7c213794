"""The ring of recent failed logins (the security view) and the reason class of each refusal of
the login gate; never a password."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from pop3srv.admission import LoginSlots
from pop3srv.auth.base import (
    AuthFailed,
    AuthUnavailable,
    LoginContext,
    Principal,
    TokenRevoked,
    TokenUnregistered,
)
from pop3srv.auth.chain import ChainAuthenticator
from pop3srv.auth.claims import MalformedClaims
from pop3srv.auth.failures import MAX_USER, FailedLogins, failure_reason
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config_model import PenaltySettings
from pop3srv.login import Gate, LoginRefused
from pop3srv.metrics import create_metrics


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


async def _reason(authenticator: object, *, slots: int = 4) -> str:
    gate = Gate(
        authenticator,  # type: ignore[arg-type]
        LoginPenalty(PenaltySettings()),
        LoginSlots(slots),
        create_metrics(CollectorRegistry()),
    )
    with pytest.raises(LoginRefused) as refused:
        await gate.log_in("eve", "secret-password", "user", LoginContext(peer="192.0.2.9:5000"))
    return failure_reason(refused.value)


async def test_refusals_are_classed_by_their_cause() -> None:
    assert await _reason(_Refuses(AuthFailed("no"))) == "bad-credentials"
    assert await _reason(_Refuses(TokenRevoked("no"))) == "revoked"
    assert await _reason(_Refuses(TokenUnregistered("no"))) == "unregistered-token"
    assert await _reason(_Refuses(MalformedClaims("no"))) == "malformed"
    assert await _reason(_Refuses(UnicodeDecodeError("utf-8", b"", 0, 1, "x"))) == "malformed"
    assert await _reason(_Refuses(AuthUnavailable("down"))) == "unavailable"
    assert await _reason(_Refuses(RuntimeError("bug"))) == "error"
    assert await _reason(_Refuses(AuthFailed("no")), slots=0) == "limited"
    # a chain keeps the telling refusal of one provider over the others' plain "no"
    chain = ChainAuthenticator([_Refuses(AuthFailed("no")), _Refuses(TokenRevoked("no"))])
    assert await _reason(chain) == "revoked"
