"""The POP3 session states and which commands each of them accepts.

RFC 1939 section 3: a session starts in AUTHORIZATION once the greeting is sent, enters
TRANSACTION when the client has identified itself (USER/PASS, or AUTH per RFC 5034), and enters
UPDATE when the client issues QUIT from TRANSACTION; the server then removes the messages marked
as deleted and closes the connection. CLOSED is this package's addition: nothing more is read or
written (after the QUIT reply, a goodbye, or the client's EOF). Only this module knows the
state/command table; the parser consults it through ``allowed`` and ``not_allowed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from pop3srv.protocol.events import Err


class State(Enum):
    """Where a POP3 session is (RFC 1939 section 3)."""

    #: RFC 1939 section 4: before login. USER/PASS (section 7), AUTH (RFC 5034), STLS
    #: (RFC 2595 section 4), CAPA (RFC 2449 section 5), UTF8 (RFC 6856 section 2) and QUIT
    #: (section 6) are valid here.
    AUTHORIZATION = "AUTHORIZATION"
    #: RFC 1939 section 5: logged in, the maildrop is locked; the message commands are valid.
    TRANSACTION = "TRANSACTION"
    #: RFC 1939 section 6: QUIT was received in TRANSACTION; deletions are being committed.
    UPDATE = "UPDATE"
    #: The session is over; no command is read any more.
    CLOSED = "CLOSED"


#: The command keywords each state accepts. NOOP is TRANSACTION-only (RFC 1939 section 5).
ALLOWED_COMMANDS: Mapping[State, frozenset[str]] = {
    State.AUTHORIZATION: frozenset({"USER", "PASS", "QUIT", "CAPA", "STLS", "AUTH", "UTF8"}),
    State.TRANSACTION: frozenset(
        {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL", "QUIT", "CAPA"}
    ),
    State.UPDATE: frozenset(),
    State.CLOSED: frozenset(),
}

#: Every keyword this implementation knows.
KNOWN_COMMANDS: frozenset[str] = ALLOWED_COMMANDS[State.AUTHORIZATION].union(
    ALLOWED_COMMANDS[State.TRANSACTION]
)


def allowed(keyword: str, state: State) -> bool:
    """Whether the (upper-case) ``keyword`` is valid in ``state``."""
    return keyword in ALLOWED_COMMANDS[state]


def not_allowed(keyword: str, state: State) -> Err:
    """The ``-ERR`` for a known command used in the wrong state."""
    if state is State.AUTHORIZATION:
        return Err(f"{keyword} not allowed before login")
    if state is State.TRANSACTION:
        return Err(f"{keyword} not allowed after login")
    return Err(f"{keyword} not allowed now")
