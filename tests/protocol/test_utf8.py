"""UTF8 (RFC 6856): the command, and UTF-8 user names (taken with or without it)."""

from __future__ import annotations

import pytest

from pop3srv.protocol.events import BadCommand, Err, Ok, Pass, User, Utf8
from pop3srv.protocol.parser import parse_command
from pop3srv.protocol.state import State
from tests.protocol.support import new_connection

JOERG = "j\u00f6rg@b\u00fccher.example"


def authorization(line: bytes, *, utf8: bool) -> object:
    del utf8  # the parser takes USER's UTF-8 either way (clients-7 F2); both modes tested
    return parse_command(line, state=State.AUTHORIZATION, have_user=True)


CASES = [
    # (id, line, utf8 mode, expected event)
    ("utf8_command", b"UTF8", False, Utf8()),
    ("utf8_lower", b"utf8", False, Utf8()),
    ("utf8_with_argument", b"UTF8 x", False, BadCommand(Err("UTF8 takes no arguments"))),
    ("ascii_user_before", b"USER alice", False, User("alice")),
    ("utf8_user_before", f"USER {JOERG}".encode(), False, User(JOERG)),
    (
        "user_not_utf8_before",
        b"USER j\xf6rg",
        False,
        BadCommand(Err("USER: the name is not UTF-8")),
    ),
    (
        "user_tab_before",
        b"USER a\tb",
        False,
        BadCommand(Err("USER: control characters in the name")),
    ),
    ("utf8_user_after", f"USER {JOERG}".encode(), True, User(JOERG)),
    ("ascii_user_after", b"USER alice", True, User("alice")),
    ("cjk_user_after", "USER \u7528\u6237".encode(), True, User("\u7528\u6237")),
    ("user_not_utf8", b"USER j\xf6rg", True, BadCommand(Err("USER: the name is not UTF-8"))),
    (
        "user_with_control",
        "USER a\u0085b".encode(),
        True,
        BadCommand(Err("USER: control characters in the name")),
    ),
    ("user_tab", b"USER a\tb", True, BadCommand(Err("USER: control characters in the name"))),
    (
        "user_with_a_space",
        "USER j\u00fcrgen m\u00fcller".encode(),
        True,
        User("j\u00fcrgen m\u00fcller"),
    ),
    ("user_empty", b"USER ", True, BadCommand(Err("USER needs a user name"))),
    ("utf8_password", "PASS p\u00e4ss w\u00f6rd".encode(), True, Pass("p\u00e4ss w\u00f6rd")),
    ("utf8_password_before", "PASS p\u00e4ss".encode(), False, Pass("p\u00e4ss")),
]


@pytest.mark.parametrize(
    ("line", "utf8", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_utf8_syntax(line: bytes, utf8: bool, expected: object) -> None:
    assert authorization(line, utf8=utf8) == expected


def test_utf8_is_refused_after_login() -> None:
    got = parse_command(b"UTF8", state=State.TRANSACTION)
    assert got == BadCommand(Err("UTF8 not allowed after login"))


def test_connection_enters_utf8_mode_on_ok_only() -> None:
    conn = new_connection()
    conn.receive_data(b"UTF8\r\n")
    assert conn.next_event() == Utf8()
    conn.send(Err("not now"))
    assert not conn.utf8
    conn.receive_data(f"UTF8\r\nUSER {JOERG}\r\nPASS gr\u00fc\u00dfe\r\n".encode())
    assert conn.next_event() == Utf8()
    assert conn.send(Ok("UTF8 on")) == b"+OK UTF8 on\r\n"
    assert conn.utf8
    assert conn.next_event() == User(JOERG)
    conn.send(Ok())
    assert conn.next_event() == Pass("gr\u00fc\u00dfe")
    conn.send(Ok())
    assert conn.state is State.TRANSACTION
    assert conn.user == JOERG


def test_stls_ends_utf8_mode() -> None:
    """Nothing negotiated in plaintext survives STLS (RFC 2595 section 4)."""
    conn = new_connection()
    conn.receive_data(b"UTF8\r\n")
    conn.next_event()
    conn.send(Ok())
    conn.receive_data(b"STLS\r\n")
    conn.next_event()
    conn.send(Ok())
    assert not conn.utf8
