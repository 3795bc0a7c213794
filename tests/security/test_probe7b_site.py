"""Probe 7b: a user inside a delayed IPv6 /48 keeps their password. Once one host of a site
has failed enough logins to delay the whole /48 (attack7's network tier), the site's logins
run one at a time; another host's login that arrives meanwhile was refused with ``-ERR [AUTH]``,
which tells a mail client the password is wrong (Thunderbird asks for a new one, fetchmail
stops polling that account). Its own /64 has no failures: it now gets ``[SYS/TEMP]`` (retry
later, keep the password); a /64 that is itself delayed still gets ``[AUTH]``."""

from __future__ import annotations

from pathlib import Path

import trio

from pop3srv.netaddr import NETWORK_SHARE
from tests.security.support import handler, login, static_users


def _address(subnet: int) -> str:
    return f"2001:db8:78:{subnet:x}::1"


async def _delay_the_site(penalty: object, subnets: range) -> None:
    for subnet in subnets:
        for _ in range(2):  # each /64 within its own free failures
            penalty.failed(_address(subnet), "mallory")  # type: ignore[attr-defined]


async def test_another_host_of_a_delayed_site_is_told_to_retry(
    autojump_clock: object, tmp_path: Path
) -> None:
    pop3 = handler(static_users(tmp_path, alice="right password"))
    penalty = pop3.deps.penalty
    await _delay_the_site(penalty, range(NETWORK_SHARE + 1))
    assert penalty.delay(_address(500)) > 0  # the /48's delay, not its own
    replies: dict[str, bytes] = {}

    async def attacker() -> None:
        replies["attacker"], _ = await login(pop3, f"[{_address(1)}]:1", "bob", "guess")

    async def innocent() -> None:
        await trio.sleep(0.1)  # while the attacker's attempt waits out the delay
        replies["innocent"], _ = await login(pop3, f"[{_address(500)}]:1", "alice", "x")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(attacker)
        nursery.start_soon(innocent)
    assert replies["innocent"].startswith(b"-ERR [SYS/TEMP] too many login attempts"), replies
    assert b"network" in replies["innocent"]


async def test_a_delayed_host_itself_is_still_refused_as_auth(
    autojump_clock: object, tmp_path: Path
) -> None:
    pop3 = handler(static_users(tmp_path, alice="right password"))
    penalty = pop3.deps.penalty
    for _ in range(5):
        penalty.failed(_address(1), "bob")
    replies: list[bytes] = []

    async def guess(delay: float) -> None:
        await trio.sleep(delay)
        replies.append((await login(pop3, f"[{_address(1)}]:2", "bob", "guess"))[0])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(guess, 0)
        nursery.start_soon(guess, 0.1)
    assert any(r.startswith(b"-ERR [AUTH] too many login attempts") for r in replies), replies
