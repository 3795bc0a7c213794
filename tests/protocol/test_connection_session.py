"""Whole sessions: transcripts at every chunking, pipelining, state changes driven by replies."""

from __future__ import annotations

import pytest

from pop3srv.protocol.connection import Connection
from pop3srv.protocol.events import (
    NEED_DATA,
    BadCommand,
    BeginData,
    ConnectionClosed,
    Data,
    EndData,
    Err,
    Ok,
    Pass,
    Quit,
    Reply,
    Stat,
    User,
)
from pop3srv.protocol.state import State
from tests.protocol.support import chunkings, logged_in, new_connection, serve

SESSION = (
    b"CAPA\r\n"
    b"USER alice\r\n"
    b"PASS secret\r\n"
    b"STAT\r\n"
    b"LIST\r\n"
    b"list 2\n"
    b"UIDL\r\n"
    b"RETR 1\r\n"
    b"RETR 2\r\n"
    b"TOP 1 0\r\n"
    b"DELE 9\r\n"
    b"NOOP\r\n"
    b"QUIT\r\n"
)
SESSION_REPLIES = (
    b"+OK capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\nRESP-CODES\r\n"
    b"AUTH-RESP-CODE\r\nPIPELINING\r\nUTF8 USER\r\nSTLS\r\nIMPLEMENTATION test\r\n.\r\n"
    b"+OK send PASS\r\n"
    b"+OK logged in\r\n"
    b"+OK 2 109\r\n"
    b"+OK scan listing\r\n1 64\r\n2 45\r\n.\r\n"
    b"+OK 2 45\r\n"
    b"+OK unique ids\r\n1 uid-one\r\n2 uid-two\r\n.\r\n"
    b"+OK message follows\r\nFrom: a@example.com\r\nSubject: one\r\n\r\nfirst line\r\n"
    b"..dotted\r\nlast\r\n.\r\n"
    b"+OK message follows\r\nSubject: two\r\n\r\nbare LF body\r\n..\r\nno final newline\r\n.\r\n"
    b"+OK top of message follows\r\nFrom: a@example.com\r\nSubject: one\r\n\r\n.\r\n"
    b"-ERR no such message\r\n"
    b"+OK\r\n"
    b"+OK bye\r\n"
)


def test_session_transcript_is_independent_of_chunking() -> None:
    for chunks in chunkings(SESSION, exhaustive_up_to=0, randoms=40):
        conn = new_connection()
        events, wire = serve(conn, chunks)
        assert wire == SESSION_REPLIES, chunks
        assert len(events) == 14
        assert events[-1] == ConnectionClosed()
        assert conn.state is State.CLOSED


def test_byte_by_byte_session_with_trailing_garbage_after_quit() -> None:
    data = SESSION + b"STAT\r\nRETR 1\r\n"
    events, wire = serve(new_connection(), [data[i : i + 1] for i in range(len(data))])
    assert wire == SESSION_REPLIES  # nothing after QUIT is executed
    assert Stat() not in events[4:]


PIPELINES = [
    (
        "login_then_stat_parsed_in_transaction",
        b"USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n",
        b"+OK send PASS\r\n+OK logged in\r\n+OK 2 109\r\n+OK bye\r\n",
    ),
    (
        "failed_login_then_stat_parsed_in_authorization",
        b"USER alice\r\nPASS wrong\r\nSTAT\r\nPASS secret\r\nQUIT\r\n",
        b"+OK send PASS\r\n-ERR [AUTH] invalid\r\n-ERR STAT not allowed before login\r\n"
        b"-ERR PASS must follow a successful USER\r\n+OK bye\r\n",
    ),
    (
        "unknown_user_then_pass_refused",
        b"USER bob\r\nPASS secret\r\nQUIT\r\n",
        b"-ERR [AUTH] unknown user\r\n-ERR PASS must follow a successful USER\r\n+OK bye\r\n",
    ),
    (
        "quit_in_authorization_stops_everything",
        b"QUIT\r\nUSER alice\r\nPASS secret\r\n",
        b"+OK bye\r\n",
    ),
    (
        "errors_do_not_stop_the_pipeline",
        b"BLAH\r\nUSER alice\r\n\r\nPASS secret\r\nRETR x\r\nRETR 3\r\nLIST 2\r\nQUIT\r\n",
        b"-ERR unknown command\r\n+OK send PASS\r\n-ERR empty command\r\n+OK logged in\r\n"
        b"-ERR invalid message number\r\n-ERR no such message\r\n+OK 2 45\r\n+OK bye\r\n",
    ),
    (
        "user_pass_refused_after_login",
        b"USER alice\r\nPASS secret\r\nUSER alice\r\nPASS secret\r\nAUTH PLAIN\r\nSTLS\r\nQUIT\r\n",
        b"+OK send PASS\r\n+OK logged in\r\n-ERR USER not allowed after login\r\n"
        b"-ERR PASS not allowed after login\r\n-ERR AUTH not allowed after login\r\n"
        b"-ERR STLS not allowed after login\r\n+OK bye\r\n",
    ),
    (
        "noop_refused_before_login",
        b"NOOP\r\nQUIT\r\n",
        b"-ERR NOOP not allowed before login\r\n+OK bye\r\n",
    ),
]


@pytest.mark.parametrize(
    ("data", "wire"), [c[1:] for c in PIPELINES], ids=[c[0] for c in PIPELINES]
)
def test_pipelined_commands_see_the_current_state(data: bytes, wire: bytes) -> None:
    for chunks in chunkings(data, exhaustive_up_to=0, randoms=20):
        assert serve(new_connection(), chunks)[1] == wire, chunks


def test_quit_in_transaction_enters_update_then_closes() -> None:
    conn = logged_in()
    conn.receive_data(b"QUIT\r\n")
    before = conn.state
    assert conn.next_event() == Quit()
    # the server now commits the deletions, then replies
    assert (before, conn.state) == (State.TRANSACTION, State.UPDATE)
    conn.send(Ok("bye"))
    assert conn.state is State.CLOSED
    assert conn.next_event() == ConnectionClosed()


def test_quit_with_failed_update_still_closes() -> None:
    conn = logged_in()
    conn.receive_data(b"QUIT\r\n")
    conn.next_event()
    assert conn.send(Err("some deleted messages not removed", "SYS/TEMP")).startswith(b"-ERR")
    assert conn.state is State.CLOSED


def test_quit_in_authorization_closes_without_update() -> None:
    conn = new_connection()
    conn.receive_data(b"QUIT\r\n")
    assert conn.next_event() == Quit()
    before = conn.state
    conn.send(Ok())
    assert (before, conn.state) == (State.AUTHORIZATION, State.CLOSED)


def step(conn: Connection, line: bytes, reply: Reply) -> None:
    conn.receive_data(line + b"\r\n")
    event = conn.next_event()
    assert not isinstance(event, BadCommand), event
    conn.send(reply)


# (lines and replies from a fresh connection, final state, final user)
TRANSITIONS = [
    ("user_ok_remembers", [(b"USER alice", Ok())], State.AUTHORIZATION, "alice"),
    ("user_err_forgets", [(b"USER alice", Err("no"))], State.AUTHORIZATION, None),
    (
        "second_user_replaces",
        [(b"USER alice", Ok()), (b"USER bob", Ok())],
        State.AUTHORIZATION,
        "bob",
    ),
    (
        "rejected_second_user_forgets",
        [(b"USER alice", Ok()), (b"USER bob", Err("no"))],
        State.AUTHORIZATION,
        None,
    ),
    ("pass_ok_logs_in", [(b"USER alice", Ok()), (b"PASS pw", Ok())], State.TRANSACTION, "alice"),
    (
        "pass_err_forgets",
        [(b"USER alice", Ok()), (b"PASS pw", Err("no"))],
        State.AUTHORIZATION,
        None,
    ),
    (
        "capa_changes_nothing",
        [(b"USER alice", Ok()), (b"CAPA", Err("x"))],
        State.AUTHORIZATION,
        "alice",
    ),
    ("auth_ok_logs_in", [(b"AUTH PLAIN AGEAYg==", Ok())], State.TRANSACTION, None),
    ("auth_err_stays", [(b"AUTH PLAIN AGEAYg==", Err("no"))], State.AUTHORIZATION, None),
    ("stls_ok_forgets_user", [(b"USER alice", Ok()), (b"STLS", Ok())], State.AUTHORIZATION, None),
    (
        "stls_err_keeps_user",
        [(b"USER alice", Ok()), (b"STLS", Err("no"))],
        State.AUTHORIZATION,
        "alice",
    ),
    ("quit_closes", [(b"QUIT", Ok())], State.CLOSED, None),
    ("quit_err_closes_too", [(b"QUIT", Err("x"))], State.CLOSED, None),
]


@pytest.mark.parametrize(
    ("steps", "state", "user"), [c[1:] for c in TRANSITIONS], ids=[c[0] for c in TRANSITIONS]
)
def test_state_follows_the_replies(
    steps: list[tuple[bytes, Reply]], state: State, user: str | None
) -> None:
    conn = new_connection()
    for line, reply in steps:
        step(conn, line, reply)
    assert conn.state is state
    assert conn.user == user


@pytest.mark.parametrize("reply", [Ok("0 0"), Err("maildrop locked", "IN-USE")])
def test_transaction_commands_do_not_change_state(reply: Reply) -> None:
    conn = logged_in()
    step(conn, b"STAT", reply)
    assert conn.state is State.TRANSACTION
    assert conn.user == "alice"


def test_retr_body_is_streamed_in_chunks() -> None:
    conn = logged_in()
    conn.receive_data(b"RETR 1\r\n")
    conn.next_event()
    wire = conn.send(BeginData("9 octets"))
    for chunk in (b"Subj", b"ect: x\n", b"\n.", b"\r", b"\nend"):
        wire += conn.send(Data(chunk))
    wire += conn.send(EndData())
    assert wire == b"+OK 9 octets\r\nSubject: x\r\n\r\n..\r\nend\r\n.\r\n"
    assert conn.next_event() is NEED_DATA


def test_user_and_pass_events() -> None:
    conn = new_connection()
    conn.receive_data(b"USER alice\r\nPASS my pass word\r\n")
    assert conn.next_event() == User("alice")
    conn.send(Ok())
    assert conn.next_event() == Pass("my pass word")
