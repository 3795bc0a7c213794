"""The line that closes a logged-in session: ``logout`` (Dovecot's "Disconnected: Logged
out"), the counterpart of the ``login`` line, so an operator reading the log sees when each
session ended and how, without the admin app.

One INFO line per session that opened a maildrop: its id, peer, user name, mailbox (named as
``pop3srv sessions`` and ``kick --mailbox`` name it), the outcome (the ``outcome`` label of
``pop3_sessions_total``: completed, closed, timeout, dropped, kicked, taken_over, error), why
the server ended it when it did (taken over, shutting down), commands, bytes sent and
seconds, and what it did to mail as Dovecot's ``top=/retr=/del=`` do: ``retr`` messages sent
whole, ``top`` sent in part (TOP), ``mail_bytes`` the message octets RETR and TOP sent
(before dot-stuffing; a message cut off counts what went out), ``deleted`` removed at QUIT
and ``kept`` marked deleted but still there (the session ended without QUIT, or the commit
failed or stopped: the next login sees them again). Sessions that never logged in have their
``login failed`` or ``connection refused`` lines instead.
"""

from __future__ import annotations

import logging
import time

from pop3srv.failures import safe_user
from pop3srv.logsetup import event
from pop3srv.protocol import events as ev
from pop3srv.registry import SessionRecord
from pop3srv.retrieval import Outbox

log = logging.getLogger("pop3srv.session")


def session_ended(record: SessionRecord, outcome: str, shutting_down: bool = False) -> None:
    """Log ``logout`` for ``record`` if it logged in (nothing otherwise); ``shutting_down``:
    the server is draining, which ended a session waiting for a command."""
    if record.user is None:
        return
    ended_by = record.ended_by
    if ended_by is None and shutting_down and outcome == "timeout":
        ended_by = "server shutting down"
    event(
        log,
        logging.INFO,
        "logout",
        session=record.id,
        peer=record.peer,
        user=safe_user(record.user),
        mailbox=record.mailbox,
        outcome=outcome,
        ended_by=ended_by,
        commands=record.commands,
        bytes=record.bytes_sent,
        seconds=round(time.time() - record.since, 1),
        retr=record.retr,
        top=record.top,
        mail_bytes=record.mail_bytes,
        deleted=record.deleted,
        kept=record.marked - record.deleted,
    )


class MailTally:
    """The outbox of one RETR or TOP, counting the message octets it passes on into the
    session's record; :meth:`count` then counts the command if the message went out whole
    (not an ``-ERR``, not cut off)."""

    __slots__ = ("_complete", "_out", "_record")

    def __init__(self, out: Outbox, record: SessionRecord) -> None:
        self._out = out
        self._record = record
        self._complete = False

    async def send(self, reply: ev.Reply) -> None:
        await self._out.send(reply)  # counted once handed on (a send that failed is not)
        if type(reply) is ev.Data:
            self._record.mail_bytes += len(reply.chunk)
        elif type(reply) is ev.EndData:
            self._complete = True

    def count(self, top: bool) -> None:
        if not self._complete:
            return
        if top:
            self._record.top += 1
        else:
            self._record.retr += 1
