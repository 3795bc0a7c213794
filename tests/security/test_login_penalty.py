"""Issue 13, items 3, 5, 6 and 7: the POP3 login penalty and login slots under attack
(through the whole transport on memory streams, autojump clock)."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from pop3srv.admission import LoginSlots
from pop3srv.auth.base import LoginContext, Principal
from pop3srv.auth.static import StaticAuthenticator
from pop3srv.transport import TransportLimits
from tests.security.support import guesses_between_successes, handler, line, login, static_users

ATTACKER = "192.0.2.66:40000"


async def test_i03_own_account_success_does_not_reset_guessing_another_user(
    tmp_path: Path, autojump_clock: object
) -> None:
    """Item 3: two wrong guesses at the victim, then a login to the attacker's own account, over
    and over: the guesses at the victim still get slower (before: never any delay)."""
    pop3 = handler(static_users(tmp_path, victim="secret", mallory="mine"))
    waited = await guesses_between_successes(pop3, ATTACKER, "victim", ("mallory", "mine"))
    assert waited >= 1 + 2 + 4 + 8 + 15  # the delays of failures 3 to 7 at least


async def test_i03_failures_count_per_user_across_addresses_capped_and_decay(
    tmp_path: Path, autojump_clock: object
) -> None:
    """Item 3: guesses at one user from many addresses slow further guesses at that user from
    a fresh address (capped), and they decay by time. Since security probe 4 the wait comes
    after a failed check: the real user's right password is not slowed (see
    ``test_probe4_penalty``)."""
    pop3 = handler(static_users(tmp_path, victim="secret"))
    for index in range(20):
        reply, _ = await login(pop3, f"198.51.100.{index}:1", "victim", "wrong")
        assert reply.startswith(b"-ERR [AUTH]")
    reply, elapsed = await login(pop3, "203.0.113.9:1", "victim", "another guess")
    assert reply.startswith(b"-ERR [AUTH]")
    assert 1 <= elapsed <= 4
    reply, elapsed = await login(pop3, "203.0.113.10:1", "victim", "secret")
    assert reply.startswith(b"+OK") and elapsed == 0
    await trio.sleep(3600)
    reply, elapsed = await login(pop3, "203.0.113.11:1", "victim", "one more guess")
    assert reply.startswith(b"-ERR [AUTH]") and elapsed == 0


async def test_i05_delayed_address_runs_one_attempt_at_a_time(
    tmp_path: Path, autojump_clock: object
) -> None:
    """Item 5: an address already at the maximum delay cannot run guesses in parallel: one
    waits and is checked, the rest are refused at once (before: all 48 were checked)."""
    pop3 = handler(static_users(tmp_path, victim="secret"))
    for _ in range(7):
        await login(pop3, ATTACKER, "victim", "wrong")
    results: list[tuple[bytes, float]] = []

    async def guess(index: int) -> None:
        results.append(await login(pop3, ATTACKER, "victim", f"guess{index}"))

    async with trio.open_nursery() as nursery:
        for index in range(48):
            nursery.start_soon(guess, index)
    checked = [r for r in results if r[0].startswith(b"-ERR [AUTH] invalid")]
    refused = [r for r in results if b"too many login attempts" in r[0]]
    assert len(checked) == 1
    assert len(refused) == 47
    assert all(elapsed == 0 for _, elapsed in refused)


async def test_i06_ipv6_addresses_of_one_network_share_penalty_and_cap(
    tmp_path: Path, autojump_clock: object
) -> None:
    """Item 6: every address of a /64 is one client, for the penalty and for
    max-connections-per-ip (before: each address had a fresh budget)."""
    pop3 = handler(static_users(tmp_path, victim="secret"))
    for index in range(1, 6):
        await login(pop3, f"[2001:db8:1:2::{index:x}]:1", "victim", "wrong")
    _, elapsed = await login(pop3, "[2001:db8:1:2:ffff::9]:1", "nobody", "x")
    assert elapsed == 4  # five failures of the network: 1, 2, then 4 s
    _, elapsed = await login(pop3, "[2001:db8:1:3::1]:1", "nobody", "x")
    assert elapsed == 0  # the next /64 is someone else

    admission = pop3.admission
    admission.max_per_address = 2
    with admission.admitted("2001:db8:1:2::1"), admission.admitted("2001:db8:1:2::2"):
        assert admission.refusal("2001:db8:1:2:abcd::3") == "max_connections_per_ip"
        assert admission.refusal("2001:db8:1:9::3") is None


class _SlowChecks:
    """A login check taking 2 s (an HTTP callback), over static users."""

    def __init__(self, inner: StaticAuthenticator) -> None:
        self.inner = inner

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        await trio.sleep(2)
        return await self.inner.authenticate(user, password, context)


async def test_i07_strangers_cannot_take_a_users_login_slots(
    tmp_path: Path, autojump_clock: object
) -> None:
    """Item 7: 8 attacker connections guessing at ``victim`` (slow check) do not starve the
    victim's own correct login from another address (before: [SYS/TEMP] too many logins)."""
    pop3 = handler(
        _SlowChecks(static_users(tmp_path, victim="secret")),
        TransportLimits(allow_insecure_auth=True, max_auth_failures=100),
        logins=LoginSlots(4),
    )
    victim_reply: list[bytes] = []

    async def attacker(index: int) -> None:
        client, server = trio.testing.memory_stream_pair()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pop3.serve_stream, server, "plain", False, f"192.0.2.{index}:1")
            await line(client)
            for _ in range(2):
                await client.send_all(b"USER victim\r\nPASS guess\r\n")
                await line(client)
                await line(client)
            await client.aclose()

    async with trio.open_nursery() as nursery:
        for index in range(8):
            nursery.start_soon(attacker, index)
        await trio.sleep(0.5)
        reply, _ = await login(pop3, "198.51.100.1:1", "victim", "secret")
        victim_reply.append(reply)
    assert victim_reply[0].startswith(b"+OK"), victim_reply
