"""Shared helpers for the protocol tests: ways to split a byte string, and a scripted server."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator

from pop3srv.protocol import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthCancel,
    AuthResponse,
    BadCommand,
    BeginData,
    Capa,
    Command,
    Connection,
    ConnectionClosed,
    Continue,
    Data,
    Dele,
    EndData,
    Err,
    Event,
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
    TopFilter,
    Uidl,
    User,
    Utf8,
    capabilities,
    decode_plain,
)

SEED = 20240229


def chunkings(
    data: bytes, *, exhaustive_up_to: int = 24, randoms: int = 60
) -> Iterator[list[bytes]]:
    """Ways to cut ``data`` into chunks: whole, byte by byte, every 2-way split, every 3-way split
    (for short data), and ``randoms`` random cuttings (fixed seed), some with empty chunks."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]
    if len(data) <= exhaustive_up_to:
        for i in range(len(data) + 1):
            for j in range(i, len(data) + 1):
                yield [data[:i], data[i:j], data[j:]]
    rng = random.Random(SEED + len(data))
    for _ in range(randoms):
        cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 12)))
        bounds = [0, *cuts, len(data)]
        yield [data[a:b] for a, b in itertools.pairwise(bounds)]


MESSAGES = {
    1: b"From: a@example.com\r\nSubject: one\r\n\r\nfirst line\r\n.dotted\r\nlast\r\n",
    2: b"Subject: two\n\nbare LF body\n.\nno final newline",
}
UIDS = {1: "uid-one", 2: "uid-two"}


def canned_replies(event: Command, conn: Connection) -> list[Reply]:
    """A tiny in-memory POP3 server: the replies to ``event`` (user alice / password secret)."""
    match event:
        case BadCommand(reply=reply):
            return [reply]
        case User(name=name):
            return [Ok("send PASS")] if name == "alice" else [Err("unknown user", "AUTH")]
        case Pass(password=password):
            return [Ok("logged in")] if password == "secret" else [Err("invalid", "AUTH")]
        case Auth(mechanism=None):
            return [MultiLine("methods", ["PLAIN"])]
        case Auth(mechanism="PLAIN", initial_response=None):
            return [Continue()]
        case Auth(mechanism="PLAIN", initial_response=str(data)) | AuthResponse(data=data):
            return [_check_plain(data)]
        case Auth():
            return [Err("unsupported mechanism")]
        case AuthCancel():
            return [Err("authentication cancelled")]
        case Capa():
            caps = capabilities(
                state=conn.state,
                stls_available=conn.stls_allowed,
                user_allowed=True,
                sasl_mechanisms=["PLAIN"],
                implementation="test",
            )
            return [MultiLine("capability list follows", caps)]
        case Stls():
            return [Ok("begin TLS negotiation")]
        case Stat():
            return [Ok(f"{len(MESSAGES)} {sum(map(len, MESSAGES.values()))}")]
        case List(msg=None):
            return [MultiLine("scan listing", [f"{n} {len(m)}" for n, m in MESSAGES.items()])]
        case Uidl(msg=None):
            return [MultiLine("unique ids", [f"{n} {u}" for n, u in UIDS.items()])]
        case List(msg=int(n)) | Uidl(msg=int(n)) | Dele(msg=int(n)) if n not in MESSAGES:
            return [Err("no such message")]
        case List(msg=int(n)):
            return [Ok(f"{n} {len(MESSAGES[n])}")]
        case Uidl(msg=int(n)):
            return [Ok(f"{n} {UIDS[n]}")]
        case Retr(msg=n) | Top(msg=n) if n not in MESSAGES:
            return [Err("no such message")]
        case Retr(msg=n):
            return [BeginData("message follows"), Data(MESSAGES[n]), EndData()]
        case Top(msg=n, lines=lines):
            body = TopFilter(lines).feed(MESSAGES[n])
            return [BeginData("top of message follows"), Data(body), EndData()]
        case Dele() | Noop() | Rset() | Utf8():
            return [Ok()]
        case Quit():
            return [Ok("bye")]
    raise AssertionError(f"unexpected event {event!r}")


def _check_plain(data: str) -> Ok | Err:
    try:
        _, user, password = decode_plain(data)
    except ValueError:
        return Err("malformed PLAIN response")
    if (user, password) == ("alice", "secret"):
        return Ok("logged in")
    return Err("invalid", "AUTH")


Responder = Callable[[Command, Connection], list[Reply]]


def serve(
    conn: Connection, chunks: list[bytes], respond: Responder = canned_replies
) -> tuple[list[Event], bytes]:
    """Runs ``conn`` like an I/O loop would: feeds ``chunks`` (then EOF) only when it needs
    data, answers every command with ``respond`` and returns the events and all bytes sent."""
    events: list[Event] = []
    out = bytearray()
    pending = iter(chunks)
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            chunk = next(pending, None)
            if chunk != b"":  # an I/O layer never passes an empty read; None is the EOF
                conn.receive_data(chunk or b"")
            continue
        assert event is not PAUSED, "every command is answered before the next is asked for"
        events.append(event)
        if isinstance(event, ConnectionClosed):
            return events, bytes(out)
        for reply in respond(event, conn):
            out += conn.send(reply)


def new_connection(*, stls_available: bool = True, is_tls: bool = False) -> Connection:
    return Connection(stls_available=stls_available, is_tls=is_tls)


def logged_in(**kwargs: bool) -> Connection:
    """A connection in TRANSACTION (USER alice / PASS secret accepted)."""
    conn = new_connection(**kwargs)
    for line in (b"USER alice\r\n", b"PASS secret\r\n"):
        conn.receive_data(line)
        event = conn.next_event()
        assert isinstance(event, User | Pass)
        conn.send(Ok())
    return conn
