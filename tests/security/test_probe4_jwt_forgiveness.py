"""Security probe 4: a JWT login does not forgive the failures of the name it was sent with.

A success forgives that address's failures for the same user (issue 13, item 3). The USER
name of a JWT login is free-form, so anyone holding a token of their own (a demo token, their
own mailbox) guessed two passwords of ``victim``, then logged in with ``USER victim`` and their
token, and so on: the address's delay never grew (on a running server: 12 guesses at a static
user in 23 s, only the per-user wait; issue 13's target for 10 guesses is >= 30 s)."""

from __future__ import annotations

from pathlib import Path

import jwt

from pop3srv.auth.chain import ChainAuthenticator
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.jwt import JwtAuthenticator
from tests.security.support import guesses_between_successes, handler, login, static_users

SECRET = "probe4-jwt-secret-0123456789abcdef"
ATTACKER = "192.0.2.99:40000"


async def test_own_token_sent_as_the_victim_does_not_reset_the_guessing(
    tmp_path: Path, autojump_clock: object
) -> None:
    chain = ChainAuthenticator(
        [JwtAuthenticator(MailboxResolver(), secret=SECRET), static_users(tmp_path, victim="pw")]
    )
    pop3 = handler(chain)
    own_token = jwt.encode({"provider": "demo"}, SECRET, algorithm="HS256")
    # the token is valid; the name it is sent with proves nothing
    waited = await guesses_between_successes(pop3, ATTACKER, "victim", ("victim", own_token))
    assert waited >= 1 + 2 + 4 + 8 + 15  # the delays of failures 3 to 7 at least


async def test_a_static_success_still_forgives_its_own_failures(
    tmp_path: Path, autojump_clock: object
) -> None:
    pop3 = handler(static_users(tmp_path, victim="pw"))
    for _ in range(3):
        await login(pop3, ATTACKER, "victim", "typo")
    reply, _ = await login(pop3, ATTACKER, "victim", "pw")
    assert reply.startswith(b"+OK")
    reply, elapsed = await login(pop3, ATTACKER, "victim", "typo again")
    assert reply.startswith(b"-ERR [AUTH]") and elapsed == 0
