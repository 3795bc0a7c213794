"""Probe 7b: one user name respelt is counted as one name. USER takes the rest of the line
now (spaces around it dropped), and UTF8 names may come composed or decomposed (``José`` as
NFC or NFD), in full-width forms or with ligatures (``ﬁ``); an authentication callback that
normalises them (as most identity providers do) checks one account for all spellings, so
the per-user failure count (``user_delay``) and the per-user login slots must count them as
one name too, or a distributed guesser rotates spellings to stay under them."""

from __future__ import annotations

import pytest

from pop3srv.admission import LoginSlots
from pop3srv.auth.penalty import USER_FREE_FAILURES, LoginPenalty
from pop3srv.config import PenaltySettings

NFC = "jos\u00e9@example.com"
NFD = "jose\u0301@example.com"
SPELLINGS = [
    NFC,
    NFD,
    "JOSE\u0301@EXAMPLE.COM",
    "\uff4a\uff4f\uff53\u00e9@example.com",
    f" {NFC}\u3000",  # AUTH PLAIN's authcid keeps spaces around the name
]


@pytest.mark.parametrize("other", SPELLINGS[1:])
async def test_respellings_share_the_user_count(other: str) -> None:
    penalty = LoginPenalty(PenaltySettings(free_failures=100, start=1.0, maximum=15.0))
    for n in range(USER_FREE_FAILURES + 2):
        penalty.failed(f"192.0.2.{n + 1}", SPELLINGS[0] if n % 2 else other)
    assert penalty.user_delay(NFC) > 0
    assert penalty.user_delay(other) == penalty.user_delay(NFC)


def test_respellings_share_the_login_slots() -> None:
    slots = LoginSlots(max_per_user=2)
    with slots.slot(NFC, "192.0.2.1") as first, slots.slot(NFD, "192.0.2.1") as second:
        assert first and second
        with slots.slot(SPELLINGS[3], "192.0.2.1") as third:
            assert not third


async def test_a_success_with_one_spelling_forgives_the_others() -> None:
    penalty = LoginPenalty(PenaltySettings(free_failures=2, start=1.0, maximum=15.0))
    for _ in range(3):
        penalty.failed("192.0.2.1", NFD)
    assert penalty.delay("192.0.2.1") > 0
    penalty.succeeded("192.0.2.1", NFC)
    assert penalty.delay("192.0.2.1") == 0
