"""capabilities(): which CAPA lines are announced under which conditions."""

from __future__ import annotations

import pytest

from pop3srv.protocol.capabilities import capabilities
from pop3srv.protocol.state import State

ALWAYS = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8"]


@pytest.mark.parametrize("state", [State.AUTHORIZATION, State.TRANSACTION])
@pytest.mark.parametrize("stls_available", [True, False])
@pytest.mark.parametrize("user_allowed", [True, False])
@pytest.mark.parametrize("mechanisms", [[], ["PLAIN"], ["PLAIN", "XOAUTH2"]])
def test_capability_combinations(
    state: State, stls_available: bool, user_allowed: bool, mechanisms: list[str]
) -> None:
    caps = capabilities(
        state=state,
        stls_available=stls_available,
        user_allowed=user_allowed,
        sasl_mechanisms=mechanisms,
        implementation="pop3srv 0.1",
    )
    expected = ["TOP", "UIDL"]
    if user_allowed:
        expected.append("USER")
        if mechanisms:
            expected.append("SASL " + " ".join(mechanisms))
    expected += ["RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
    expected.append("UTF8 USER" if user_allowed else "UTF8")  # RFC 6856: USER takes UTF-8
    if stls_available and state is State.AUTHORIZATION:
        expected.append("STLS")
    expected.append("IMPLEMENTATION pop3srv 0.1")
    assert caps == expected


@pytest.mark.parametrize(
    ("login_delay", "expire", "extra"),
    [
        (None, None, []),
        (0, None, ["LOGIN-DELAY 0"]),
        (900, None, ["LOGIN-DELAY 900"]),
        (None, "NEVER", ["EXPIRE NEVER"]),
        (None, "30", ["EXPIRE 30"]),
        (60, "0", ["LOGIN-DELAY 60", "EXPIRE 0"]),
    ],
)
def test_login_delay_and_expire(
    login_delay: int | None, expire: str | None, extra: list[str]
) -> None:
    caps = capabilities(
        state=State.TRANSACTION,
        stls_available=False,
        user_allowed=False,
        sasl_mechanisms=[],
        implementation="x",
        login_delay=login_delay,
        expire=expire,
    )
    assert caps == [*ALWAYS, *extra, "IMPLEMENTATION x"]


def test_empty_implementation_is_omitted() -> None:
    caps = capabilities(
        state=State.AUTHORIZATION,
        stls_available=False,
        user_allowed=False,
        sasl_mechanisms=["PLAIN"],
        implementation="",
    )
    assert caps == ALWAYS
