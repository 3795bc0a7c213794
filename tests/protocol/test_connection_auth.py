"""SASL AUTH exchanges (RFC 5034) and STLS (RFC 2595) through the Connection."""

from __future__ import annotations

import pytest

from pop3srv.protocol.connection import Connection
from pop3srv.protocol.errors import LocalProtocolError
from pop3srv.protocol.events import (
    NEED_DATA,
    Auth,
    AuthCancel,
    AuthResponse,
    BadCommand,
    Capa,
    Continue,
    Err,
    MultiLine,
    Ok,
    Pass,
    Stat,
    Stls,
    User,
)
from pop3srv.protocol.sasl import encode_plain
from pop3srv.protocol.state import State
from tests.protocol.support import chunkings, new_connection, serve

GOOD = encode_plain("", "alice", "secret")
WRONG = encode_plain("", "alice", "wrong")
LOGGED_IN = b"+OK logged in\r\n"

SASL_FLOWS = [
    ("initial_response", f"AUTH PLAIN {GOOD}\r\nSTAT\r\n", LOGGED_IN + b"+OK 2 109\r\n"),
    (
        "initial_response_lower_mechanism",
        f"auth plain {GOOD}\r\nQUIT\r\n",
        LOGGED_IN + b"+OK bye\r\n",
    ),
    (
        "empty_initial_response_equals",
        "AUTH PLAIN =\r\nSTAT\r\n",
        b"-ERR malformed PLAIN response\r\n-ERR STAT not allowed before login\r\n",
    ),
    ("continuation", f"AUTH PLAIN\r\n{GOOD}\r\nSTAT\r\n", b"+ \r\n" + LOGGED_IN + b"+OK 2 109\r\n"),
    (
        "continuation_wrong_password",
        f"AUTH PLAIN\r\n{WRONG}\r\nSTAT\r\n",
        b"+ \r\n-ERR [AUTH] invalid\r\n-ERR STAT not allowed before login\r\n",
    ),
    (
        "cancel",
        "AUTH PLAIN\r\n*\r\nUSER alice\r\nPASS secret\r\n",
        b"+ \r\n-ERR authentication cancelled\r\n+OK send PASS\r\n" + LOGGED_IN,
    ),
    (
        "continuation_line_is_not_a_command",
        "AUTH PLAIN\r\nQUIT\r\nQUIT\r\n",
        b"+ \r\n-ERR malformed PLAIN response\r\n+OK bye\r\n",
    ),
    ("list_mechanisms", "AUTH\r\nQUIT\r\n", b"+OK methods\r\nPLAIN\r\n.\r\n+OK bye\r\n"),
    (
        "unsupported_mechanism",
        "AUTH CRAM-MD5\r\nQUIT\r\n",
        b"-ERR unsupported mechanism\r\n+OK bye\r\n",
    ),
    (
        "bad_base64",
        "AUTH PLAIN !!!\r\nQUIT\r\n",
        b"-ERR malformed PLAIN response\r\n+OK bye\r\n",
    ),
]


@pytest.mark.parametrize(
    ("client", "server"), [c[1:] for c in SASL_FLOWS], ids=[c[0] for c in SASL_FLOWS]
)
def test_sasl_flow_at_every_chunking(client: str, server: bytes) -> None:
    for chunks in chunkings(client.encode(), exhaustive_up_to=0, randoms=15):
        assert serve(new_connection(), chunks)[1] == server, chunks


def test_sasl_events_and_state() -> None:
    conn = new_connection()
    conn.receive_data(f"AUTH PLAIN\r\n{WRONG}\r\n*\r\nAUTH PLAIN {GOOD}\r\n".encode())
    assert conn.next_event() == Auth("PLAIN")
    assert conn.send(Continue()) == b"+ \r\n"
    assert conn.pending is None
    assert conn.next_event() == AuthResponse(WRONG)
    assert conn.send(Continue("bW9yZQ==")) == b"+ bW9yZQ==\r\n"  # another round
    assert conn.next_event() == AuthCancel()
    with pytest.raises(LocalProtocolError):
        conn.send(Ok())  # a cancelled exchange must fail
    conn.send(Err("cancelled"))
    assert conn.next_event() == Auth("PLAIN", GOOD)
    conn.send(Ok())
    assert conn.state is State.TRANSACTION


def test_auth_with_initial_response_may_get_a_continuation() -> None:
    conn = new_connection()
    conn.receive_data(b"AUTH X-TOKEN abc\r\ndef\r\n")
    assert conn.next_event() == Auth("X-TOKEN", "abc")
    conn.send(Continue("next"))
    assert conn.next_event() == AuthResponse("def")


@pytest.mark.parametrize("reply", [Continue(), Ok()])
def test_auth_listing_gets_a_multiline_only(reply: Continue | Ok) -> None:
    conn = new_connection()
    conn.receive_data(b"AUTH\r\n")
    assert conn.next_event() == Auth()
    with pytest.raises(LocalProtocolError):
        conn.send(reply)


def test_continue_only_answers_auth() -> None:
    conn = new_connection()
    conn.receive_data(b"USER alice\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(Continue())


def test_sasl_response_may_exceed_the_command_limit() -> None:
    conn = new_connection()
    response = "A" * 12000
    conn.receive_data(f"AUTH PLAIN\r\n{response}\r\n".encode())
    conn.next_event()
    conn.send(Continue())
    assert conn.next_event() == AuthResponse(response)


def test_over_long_sasl_response_ends_the_exchange() -> None:
    conn = Connection(stls_available=False, is_tls=False, max_line=255, max_auth_line=1000)
    conn.receive_data(b"AUTH PLAIN\r\n" + b"A" * 1001 + b"\r\nCAPA\r\n")
    conn.next_event()
    conn.send(Continue())
    assert conn.next_event() == BadCommand(Err("line too long"), too_long=True)
    conn.send(Err("line too long"))
    assert conn.next_event() == Capa()  # parsed as a command again


PLAINTEXT_AFTER_STLS = b"STLS\r\nUSER mallory\r\nPASS injected\r\nCAPA\r\n"


@pytest.mark.parametrize("split", range(len(b"STLS\r\n"), len(PLAINTEXT_AFTER_STLS) + 1))
def test_stls_discards_pipelined_plaintext(split: int) -> None:
    conn = new_connection()
    conn.receive_data(PLAINTEXT_AFTER_STLS[:split])  # all of it read before the STLS reply
    assert conn.next_event() == Stls()
    conn.receive_data(PLAINTEXT_AFTER_STLS[split:] or b"NOOP")
    assert conn.send(Ok("begin TLS")) == b"+OK begin TLS\r\n"
    assert conn.is_tls
    assert not conn.stls_allowed
    assert conn.next_event() is NEED_DATA  # no USER mallory, no PASS, no CAPA
    conn.receive_data(b"CAPA\r\n")  # now over TLS
    assert conn.next_event() == Capa()


def test_stls_discards_an_unfinished_over_long_plaintext_line() -> None:
    conn = new_connection()
    conn.receive_data(b"STLS\r\n" + b"x" * 20000)
    conn.next_event()
    conn.send(Ok())
    conn.receive_data(b"USER alice\r\n")
    assert conn.next_event() == User("alice")


def test_refused_stls_keeps_the_pipelined_commands() -> None:
    conn = new_connection()
    conn.receive_data(b"STLS\r\nUSER alice\r\n")
    conn.next_event()
    conn.send(Err("TLS is broken", "SYS/TEMP"))
    assert not conn.is_tls
    assert conn.next_event() == User("alice")


def test_stls_forgets_a_plaintext_user() -> None:
    conn = new_connection()
    conn.receive_data(b"USER alice\r\n")
    conn.next_event()
    conn.send(Ok())
    conn.receive_data(b"STLS\r\n")
    conn.next_event()
    conn.send(Ok())
    assert conn.user is None
    conn.receive_data(b"PASS secret\r\n")
    assert conn.next_event() == BadCommand(Err("PASS must follow a successful USER"))


@pytest.mark.parametrize(
    ("stls_available", "is_tls", "reply"),
    [
        (False, False, b"-ERR STLS not available\r\n"),
        (True, True, b"-ERR already using TLS\r\n"),
    ],
)
def test_stls_refused_by_the_parser(stls_available: bool, is_tls: bool, reply: bytes) -> None:
    conn = Connection(stls_available=stls_available, is_tls=is_tls)
    _, wire = serve(conn, [b"STLS\r\nQUIT\r\n"])
    assert wire == reply + b"+OK bye\r\n"


def test_second_stls_is_refused() -> None:
    conn = new_connection()
    conn.receive_data(b"STLS\r\n")
    conn.next_event()
    conn.send(Ok())
    _, wire = serve(conn, [b"STLS\r\nCAPA\r\nQUIT\r\n"])
    assert wire.startswith(b"-ERR already using TLS\r\n+OK capability list follows\r\n")
    assert b"STLS" not in wire.split(b"\r\n", 1)[1]


def test_login_after_stls() -> None:
    conn = new_connection()
    conn.receive_data(b"STLS\r\n")
    conn.next_event()
    conn.send(Ok())
    conn.receive_data(b"USER alice\r\nPASS secret\r\nSTAT\r\n")
    assert conn.next_event() == User("alice")
    conn.send(Ok())
    assert conn.next_event() == Pass("secret")
    conn.send(Ok())
    assert conn.next_event() == Stat()


def test_capa_lists_stls_only_before_tls() -> None:
    _, wire = serve(new_connection(), [b"CAPA\r\nQUIT\r\n"])
    assert b"\r\nSTLS\r\n" in wire
    _, wire = serve(new_connection(is_tls=True), [b"CAPA\r\nQUIT\r\n"])
    assert b"STLS" not in wire
    conn = new_connection()
    conn.receive_data(b"CAPA\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(Ok())
    assert conn.send(MultiLine("caps")) == b"+OK caps\r\n.\r\n"
