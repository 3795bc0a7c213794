"""Line limits through the Connection: 255 octets for commands, more for PASS/AUTH/SASL."""

from __future__ import annotations

import pytest

from pop3srv.protocol.connection import Connection
from pop3srv.protocol.events import (
    NEED_DATA,
    PAUSED,
    Auth,
    BadCommand,
    Err,
    Noop,
    Ok,
    Pass,
    Stat,
    User,
)
from tests.protocol.support import chunkings, logged_in, new_connection, serve

TOO_LONG = BadCommand(Err("line too long"), too_long=True)


def with_user() -> Connection:
    conn = new_connection()
    conn.receive_data(b"USER alice\r\n")
    conn.next_event()
    conn.send(Ok())
    return conn


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"NOOP" + b" " * 251, Noop()),  # 255 octets
        (b"NOOP" + b" " * 252, TOO_LONG),
        (b"RETR " + b"1" * 300, TOO_LONG),
        (b"\xff" * 5000, TOO_LONG),
        (b"PASS " + b"p" * 300, BadCommand(Err("PASS not allowed after login"))),
    ],
    ids=["255_ok", "256_too_long", "long_retr", "long_garbage", "long_pass_after_login"],
)
def test_command_line_limit(line: bytes, expected: Noop | BadCommand) -> None:
    conn = logged_in()
    conn.receive_data(line + b"\r\nSTAT\r\n")
    assert conn.next_event() == expected
    assert conn.send(Err("no")) == b"-ERR no\r\n"
    assert conn.next_event() == Stat()


@pytest.mark.parametrize("size", [300, 8192, 16384 - 5])
def test_long_pass_is_accepted_up_to_max_auth_line(size: int) -> None:
    line = b"PASS " + b"p" * size + b"\r\n"
    for chunks in chunkings(line, exhaustive_up_to=0, randoms=5):
        conn = with_user()
        for chunk in chunks:
            if chunk:  # b"" would be the EOF
                conn.receive_data(chunk)
        assert conn.next_event() == Pass("p" * size)


def test_pass_with_spaces_8_kib_byte_by_byte() -> None:
    password = ("pass phrase " * 700)[:8192]
    conn = with_user()
    for byte in f"PASS {password}\r\n".encode():
        assert conn.next_event() is NEED_DATA
        conn.receive_data(bytes([byte]))
    assert conn.next_event() == Pass(password)


def test_pass_over_max_auth_line_is_too_long() -> None:
    conn = with_user()
    conn.receive_data(b"PASS " + b"p" * 16384 + b"\r\nQUIT\r\n")
    assert conn.next_event() == TOO_LONG
    conn.send(Err("line too long"))
    assert conn.user == "alice"  # a BadCommand changes no state


def test_long_auth_initial_response() -> None:
    conn = new_connection()
    conn.receive_data(b"AUTH PLAIN " + b"A" * 12000 + b"\r\n")
    assert conn.next_event() == Auth("PLAIN", "A" * 12000)


def test_custom_limits() -> None:
    conn = Connection(stls_available=False, is_tls=False, max_line=20, max_auth_line=40)
    _, wire = serve(
        conn,
        [
            b"USER " + b"u" * 15 + b"\r\n",  # 20 octets
            b"USER " + b"u" * 16 + b"\r\n",  # 21 octets
            b"PASS " + b"p" * 35 + b"\r\n",  # 40 octets: fine for PASS
            b"PASS " + b"p" * 36 + b"\r\n",  # 41 octets
            b"QUIT\r\n",
        ],
    )
    assert wire == (
        b"-ERR [AUTH] unknown user\r\n-ERR line too long\r\n"
        b"-ERR PASS must follow a successful USER\r\n-ERR line too long\r\n+OK bye\r\n"
    )


def test_one_mib_line_without_lf_is_one_bad_command_with_bounded_memory() -> None:
    conn = logged_in()
    bad_commands = 0
    for _ in range(256):  # 1 MiB in 4 KiB reads
        conn.receive_data(b"X" * 4096)
        assert conn._buffer.buffered <= 16385  # white-box: the buffer holds at most one line
        while (event := conn.next_event()) not in (NEED_DATA, PAUSED):
            assert event == TOO_LONG
            bad_commands += 1
            conn.send(Err("line too long"))
    assert bad_commands == 1
    conn.receive_data(b"still the same line\r\nNOOP\r\n")
    assert conn.next_event() == Noop()


def test_over_long_line_inside_a_pipeline() -> None:
    _, wire = serve(
        new_connection(), [b"USER alice\r\n" + b"x" * 300 + b"\r\nUSER alice\r\nQUIT\r\n"]
    )
    assert wire == b"+OK send PASS\r\n-ERR line too long\r\n+OK send PASS\r\n+OK bye\r\n"


def test_over_long_line_reported_before_its_end_arrives() -> None:
    conn = new_connection()
    conn.receive_data(b"y" * 20000)
    assert conn.next_event() == TOO_LONG
    conn.send(Err("line too long"))
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"yyy\nUSER alice\n")
    assert conn.next_event() == User("alice")
