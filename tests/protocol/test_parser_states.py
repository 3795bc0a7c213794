"""Every command keyword in every state: accepted where RFC 1939/2449/2595/5034/6856 allow it."""

from __future__ import annotations

import pytest

from pop3srv.protocol.events import (
    Auth,
    BadCommand,
    Capa,
    Command,
    Dele,
    Err,
    List,
    Noop,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
)
from pop3srv.protocol.parser import parse_command
from pop3srv.protocol.state import ALLOWED_COMMANDS, KNOWN_COMMANDS, State, allowed, not_allowed

A, T, U, C = State.AUTHORIZATION, State.TRANSACTION, State.UPDATE, State.CLOSED

# keyword -> (a valid line, its event, the states accepting it)
COMMANDS: dict[str, tuple[bytes, Command, set[State]]] = {
    "USER": (b"USER alice", User("alice"), {A}),
    "PASS": (b"PASS secret", Pass("secret"), {A}),
    "AUTH": (b"AUTH PLAIN", Auth("PLAIN"), {A}),
    "STLS": (b"STLS", Stls(), {A}),
    "UTF8": (b"UTF8", Utf8(), {A}),
    "CAPA": (b"CAPA", Capa(), {A, T}),
    "QUIT": (b"QUIT", Quit(), {A, T}),
    "STAT": (b"STAT", Stat(), {T}),
    "LIST": (b"LIST 1", List(1), {T}),
    "RETR": (b"RETR 1", Retr(1), {T}),
    "DELE": (b"DELE 1", Dele(1), {T}),
    "NOOP": (b"NOOP", Noop(), {T}),
    "RSET": (b"RSET", Rset(), {T}),
    "TOP": (b"TOP 1 10", Top(1, 10), {T}),
    "UIDL": (b"UIDL 1", Uidl(1), {T}),
}

WHY = {A: "not allowed before login", T: "not allowed after login", U: "not allowed now"}
WHY[C] = WHY[U]

CASES = [
    pytest.param(keyword, state, id=f"{keyword}-in-{state.name}")
    for keyword in COMMANDS
    for state in State
]


@pytest.mark.parametrize(("keyword", "state"), CASES)
def test_command_in_state(keyword: str, state: State) -> None:
    line, event, states = COMMANDS[keyword]
    got = parse_command(line, state=state, have_user=True, stls_available=True)
    if state in states:
        assert got == event
    else:
        assert got == BadCommand(Err(f"{keyword} {WHY[state]}"))


REFUSED = [p for p in CASES if p.values[1] not in COMMANDS[str(p.values[0])][2]]


@pytest.mark.parametrize(("keyword", "state"), REFUSED)
def test_state_check_comes_before_argument_check(keyword: str, state: State) -> None:
    got = parse_command(keyword.encode() + b" x y z", state=state, have_user=True)
    assert got == BadCommand(Err(f"{keyword} {WHY[state]}"))


def test_table_matches_rfc_1939_and_extensions() -> None:
    for state in State:
        expected = {k for k, (_, _, states) in COMMANDS.items() if state in states}
        assert ALLOWED_COMMANDS[state] == expected
    assert set(COMMANDS) == KNOWN_COMMANDS


def test_noop_is_transaction_only() -> None:
    assert not allowed("NOOP", A)
    assert allowed("NOOP", T)


@pytest.mark.parametrize(
    ("state", "text"),
    [(A, "RETR not allowed before login"), (T, "RETR not allowed after login")],
)
def test_not_allowed_reply_text(state: State, text: str) -> None:
    assert not_allowed("RETR", state) == Err(text)
