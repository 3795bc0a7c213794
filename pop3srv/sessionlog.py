"""The line that closes a logged-in session: ``logout`` (Dovecot's "Disconnected: Logged
out"), the counterpart of the ``login`` line, so an operator reading the log sees when each
session ended and how, without the admin app.

One INFO line per session that opened a maildrop: its id, peer, user name, mailbox (named as
``pop3srv sessions`` and ``kick --mailbox`` name it), the outcome (the ``outcome`` label of
``pop3_sessions_total``: completed, closed, timeout, dropped, kicked, taken_over, error), why
the server ended it when it did (taken over, shutting down), commands, bytes sent and
seconds. Sessions that never logged in have their ``login failed`` or ``connection refused``
lines instead.
"""

from __future__ import annotations

import logging
import time

from pop3srv.failures import safe_user
from pop3srv.logsetup import event
from pop3srv.registry import SessionRecord

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
    )
