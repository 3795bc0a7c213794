"""The TRANSACTION commands answered from the login's maildrop snapshot alone: STAT, LIST,
UIDL, DELE, NOOP and RSET (RFC 1939 section 5). Pure: a command event and the ``Maildrop`` in,
one reply event out (``NoSuchMessage`` for a number that names no live message: the session
answers it with ``-ERR``). RETR and TOP read the store: ``retrieval.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable

from pop3srv.maildrop import Entry, Maildrop, totals
from pop3srv.protocol import events as ev


def answer(drop: Maildrop, event: ev.Command) -> ev.Reply:
    """The reply to one of the snapshot's commands; DELE and RSET change the marks.

    Raises ``NoSuchMessage``; ``ValueError`` for a command that is not one of them.
    """
    match event:
        case ev.Dele(msg=n):  # the most frequent first (a download deletes every message)
            drop.mark_deleted(n)
            return ev.Ok(f"message {n} deleted")
        case ev.Stat():
            count, octets = drop.stat()
            return ev.Ok(f"{count} {octets}")
        case ev.List(msg=None):
            return _listing(drop, lambda entry: str(entry.info.size), "scan listing")
        case ev.List(msg=int(n)):
            return ev.Ok(f"{n} {drop.get(n).info.size}")
        case ev.Uidl(msg=None):
            return _listing(drop, lambda entry: entry.uid, "unique-id listing")
        case ev.Uidl(msg=int(n)):
            return ev.Ok(f"{n} {drop.get(n).uid}")
        case ev.Noop():
            return ev.Ok()
        case ev.Rset():
            drop.reset()
            count, octets = drop.stat()
            return ev.Ok(f"maildrop has {count} messages ({octets} octets)")
    raise ValueError(f"{type(event).__name__} is not answered from the maildrop alone")


def _listing(drop: Maildrop, column: Callable[[Entry], str], what: str) -> ev.MultiLine:
    live = drop.live()
    count, octets = totals(live)  # not ``drop.stat()``: a second pass building ``live()``
    lines = [f"{entry.number} {column(entry)}" for entry in live]
    return ev.MultiLine(f"{count} messages ({octets} octets) {what}", lines)
