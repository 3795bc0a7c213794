"""Connection basics: event flow, reply validation, misuse errors, EOF, greeting, goodbye."""

from __future__ import annotations

import pytest

from pop3srv.protocol.connection import Connection
from pop3srv.protocol.errors import LocalProtocolError
from pop3srv.protocol.events import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthCancel,
    AuthResponse,
    BadCommand,
    BeginData,
    Capa,
    Command,
    ConnectionClosed,
    Continue,
    Data,
    Dele,
    EndData,
    Err,
    List,
    MultiLine,
    Noop,
    Ok,
    Pass,
    Quit,
    Reply,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
)
from pop3srv.protocol.pairing import valid_replies
from pop3srv.protocol.state import State
from tests.protocol.support import logged_in, new_connection

REPLY_TYPES: list[type[Reply]] = [Ok, Err, Continue, MultiLine, BeginData]
SINGLE = {Ok, Err}
VALID: list[tuple[Command, set[type[Reply]]]] = [
    (User("a"), SINGLE),
    (Pass("p"), SINGLE),
    (Quit(), SINGLE),
    (Stat(), SINGLE),
    (List(), {MultiLine, Err}),
    (List(1), SINGLE),
    (Uidl(), {MultiLine, Err}),
    (Uidl(1), SINGLE),
    (Retr(1), {BeginData, Err}),
    (Top(1, 0), {BeginData, Err}),
    (Dele(1), SINGLE),
    (Noop(), SINGLE),
    (Rset(), SINGLE),
    (Capa(), {MultiLine, Err}),
    (Stls(), SINGLE),
    (Auth(), {MultiLine, Err}),
    (Auth("PLAIN"), {Ok, Err, Continue}),
    (Auth("PLAIN", "="), {Ok, Err, Continue}),
    (AuthResponse("x"), {Ok, Err, Continue}),
    (AuthCancel(), {Err}),
    (BadCommand(Err("x")), {Err}),
]


@pytest.mark.parametrize(
    ("command", "reply_type", "ok"),
    [(c, r, r in valid) for c, valid in VALID for r in REPLY_TYPES],
    ids=[f"{c!r}-{r.__name__}" for c, _ in VALID for r in REPLY_TYPES],
)
def test_reply_type_table(command: Command, reply_type: type[Reply], ok: bool) -> None:
    assert (reply_type in valid_replies(command)) is ok


def test_new_connection() -> None:
    conn = Connection(stls_available=True, is_tls=False)
    assert conn.state is State.AUTHORIZATION
    assert conn.user is None
    assert not conn.is_tls
    assert conn.stls_available
    assert conn.stls_allowed
    assert conn.pending is None
    assert not conn.streaming
    assert conn.next_event() is NEED_DATA


@pytest.mark.parametrize(
    ("stls_available", "is_tls", "allowed"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_stls_allowed(stls_available: bool, is_tls: bool, allowed: bool) -> None:
    conn = Connection(stls_available=stls_available, is_tls=is_tls)
    assert conn.stls_allowed is allowed
    assert conn.is_tls is is_tls


def test_stls_not_allowed_after_login() -> None:
    assert not logged_in().stls_allowed


@pytest.mark.parametrize(("max_line", "max_auth_line"), [(0, 10), (300, 299), (-1, -1)])
def test_bad_limits_are_rejected(max_line: int, max_auth_line: int) -> None:
    with pytest.raises(ValueError):
        Connection(
            stls_available=False, is_tls=False, max_line=max_line, max_auth_line=max_auth_line
        )


def test_partial_line_needs_data() -> None:
    conn = new_connection()
    conn.receive_data(b"CA")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"PA\r")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"\n")
    assert conn.next_event() == Capa()


def test_paused_until_the_reply_is_sent() -> None:
    conn = new_connection()
    conn.receive_data(b"CAPA\r\nQUIT\r\n")
    assert conn.next_event() == Capa()
    assert conn.pending == Capa()
    assert conn.next_event() is PAUSED
    assert conn.next_event() is PAUSED
    conn.send(MultiLine("caps", ["TOP"]))
    assert conn.pending is None
    assert conn.next_event() == Quit()


def test_send_without_pending_command_raises() -> None:
    conn = new_connection()
    with pytest.raises(LocalProtocolError):
        conn.send(Ok())
    conn.receive_data(b"CAPA\r\n")
    conn.next_event()
    conn.send(Err("no"))
    with pytest.raises(LocalProtocolError):
        conn.send(Err("twice"))


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"RETR 1", Ok()),
        (b"STAT", MultiLine("x")),
        (b"LIST", Ok("1 2")),
        (b"NOOP", Continue()),
        (b"NOOP", BeginData()),
        (b"XXXX", Ok()),
        (b"TOP 1 1", MultiLine("x")),
        (b"UIDL 1", MultiLine("x")),
    ],
)
def test_invalid_reply_raises_and_keeps_the_command_pending(line: bytes, reply: Reply) -> None:
    conn = logged_in()
    conn.receive_data(line + b"\r\n")
    command = conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(reply)
    assert conn.pending == command
    assert conn.send(Err("no")) == b"-ERR no\r\n"


def test_unencodable_reply_raises_and_changes_nothing() -> None:
    conn = new_connection()
    conn.receive_data(b"USER alice\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(Ok("a\r\n+OK injected"))
    assert conn.user is None
    assert conn.pending == User("alice")


@pytest.mark.parametrize("reply", [Data(b"x"), EndData()])
def test_body_parts_outside_a_body_raise(reply: Reply) -> None:
    conn = logged_in()
    with pytest.raises(LocalProtocolError):
        conn.send(reply)
    conn.receive_data(b"STAT\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(reply)


def test_streamed_body_flow() -> None:
    conn = logged_in()
    conn.receive_data(b"RETR 1\r\nNOOP\r\n")
    assert conn.next_event() == Retr(1)
    assert conn.send(BeginData("2 octets")) == b"+OK 2 octets\r\n"
    assert conn.streaming
    assert conn.next_event() is PAUSED
    with pytest.raises(LocalProtocolError):
        conn.send(Ok())
    with pytest.raises(LocalProtocolError):
        conn.send(BeginData())
    assert conn.send(Data(b".a")) == b"..a"
    assert conn.send(Data(b"")) == b""
    assert conn.send(EndData()) == b"\r\n.\r\n"
    assert not conn.streaming
    assert conn.next_event() == Noop()


def test_eof_after_complete_lines_drains_them_first() -> None:
    conn = logged_in()
    conn.receive_data(b"NOOP\r\nSTAT\r\nRSET")  # the unfinished RSET is dropped
    conn.receive_data(b"")
    assert conn.next_event() == Noop()
    conn.send(Ok())
    assert conn.next_event() == Stat()
    assert conn.next_event() is PAUSED
    conn.send(Ok("0 0"))
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is State.CLOSED  # no UPDATE without QUIT (RFC 1939 section 6)
    assert conn.next_event() == ConnectionClosed()


def test_data_after_eof_raises() -> None:
    conn = new_connection()
    conn.receive_data(b"")
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"CAPA\r\n")


def test_data_after_closed_raises_but_eof_is_harmless() -> None:
    conn = new_connection()
    conn.receive_data(b"QUIT\r\n")
    conn.next_event()
    conn.send(Ok("bye"))
    assert conn.state is State.CLOSED
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"NOOP\r\n")
    assert conn.next_event() == ConnectionClosed()


def test_greeting() -> None:
    conn = new_connection()
    assert conn.greeting("POP3 server ready") == b"+OK POP3 server ready\r\n"
    with pytest.raises(LocalProtocolError):
        conn.greeting("again")


def test_greeting_after_a_reply_raises() -> None:
    conn = new_connection()
    conn.receive_data(b"CAPA\r\n")
    conn.next_event()
    conn.send(Err("x"))
    with pytest.raises(LocalProtocolError):
        conn.greeting("late")


def test_greeting_text_is_validated() -> None:
    conn = new_connection()
    with pytest.raises(LocalProtocolError):
        conn.greeting("two\nlines")
    assert conn.greeting("fine") == b"+OK fine\r\n"


@pytest.mark.parametrize("in_transaction", [False, True])
def test_goodbye_closes_without_update(in_transaction: bool) -> None:
    conn = logged_in() if in_transaction else new_connection()
    conn.receive_data(b"NOOP\r\n")
    wire = conn.goodbye(Err("idle for too long", "SYS/TEMP"))
    assert wire == b"-ERR [SYS/TEMP] idle for too long\r\n"
    assert conn.state is State.CLOSED
    assert conn.pending is None
    assert conn.next_event() == ConnectionClosed()
    with pytest.raises(LocalProtocolError):
        conn.send(Ok())
    with pytest.raises(LocalProtocolError):
        conn.goodbye(Err("twice"))


def test_goodbye_may_answer_a_pending_command() -> None:
    conn = logged_in()
    conn.receive_data(b"STAT\r\n")
    assert conn.next_event() == Stat()
    assert conn.goodbye(Err("shutting down")) == b"-ERR shutting down\r\n"
    assert conn.next_event() == ConnectionClosed()


def test_goodbye_inside_a_body_raises() -> None:
    conn = logged_in()
    conn.receive_data(b"RETR 1\r\n")
    conn.next_event()
    conn.send(BeginData())
    with pytest.raises(LocalProtocolError):
        conn.goodbye(Err("storage failed"))
    assert conn.streaming


def test_goodbye_needs_an_err() -> None:
    conn = new_connection()
    with pytest.raises(LocalProtocolError):
        conn.goodbye(Ok("bye"))  # type: ignore[arg-type]
    assert conn.state is State.AUTHORIZATION


def test_goodbye_as_first_words_refuses_a_connection() -> None:
    conn = new_connection()
    assert conn.goodbye(Err("too many connections", "SYS/TEMP")).startswith(b"-ERR [SYS/TEMP]")
    assert conn.state is State.CLOSED
