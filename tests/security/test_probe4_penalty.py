"""Security probe 4: strangers failing logins with a user name must not slow that name's right
logins. Every JWT user of the original logs in as ``USER jwt``; before the fix, eight garbage
passwords for ``jwt`` from eight addresses (a few a minute keep it up) made every JWT login of
the whole server wait 4 s. The per-user wait now comes after a failed check only."""

from __future__ import annotations

from pathlib import Path

import jwt

from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.jwt import JwtAuthenticator
from tests.security.support import handler, login, static_users

SECRET = "probe4-jwt-secret-0123456789abcdef"


async def test_garbage_for_the_shared_jwt_name_does_not_slow_jwt_users(
    autojump_clock: object,
) -> None:
    pop3 = handler(JwtAuthenticator(MailboxResolver(), secret=SECRET))
    token = jwt.encode({"provider": "demo"}, SECRET, algorithm="HS256")
    for index in range(12):
        reply, _ = await login(pop3, f"198.51.100.{index}:1", "jwt", "garbage")
        assert reply.startswith(b"-ERR [AUTH]")
    reply, elapsed = await login(pop3, "203.0.113.9:1", "jwt", token)
    assert reply.startswith(b"+OK"), reply
    assert elapsed == 0
    # the strangers' own further guesses still wait (capped at 4 s)
    reply, elapsed = await login(pop3, "198.51.100.200:1", "jwt", "garbage")
    assert reply.startswith(b"-ERR [AUTH]") and elapsed == 4


async def test_distributed_guesses_still_cost_the_guessers(
    tmp_path: Path, autojump_clock: object
) -> None:
    """The per-user wait holds the guess's login slot: from one address, a burst of guesses
    at a user under attack is no faster than before the fix."""
    pop3 = handler(static_users(tmp_path, victim="secret"))
    for index in range(12):
        await login(pop3, f"198.51.100.{index}:1", "victim", "wrong")
    total = 0.0
    for guess in range(2):  # the address's free failures: only the per-user wait applies
        reply, elapsed = await login(pop3, "203.0.113.50:1", "victim", f"guess{guess}")
        assert reply.startswith(b"-ERR [AUTH]")
        total += elapsed
    assert total == 8
    reply, elapsed = await login(pop3, "203.0.113.51:1", "victim", "secret")
    assert reply.startswith(b"+OK") and elapsed == 0
