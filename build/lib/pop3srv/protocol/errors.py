"""Exceptions of the sans-I/O POP3 core.

``LocalProtocolError`` means the code driving a ``Connection`` misused it (a reply nobody asked
for, a body chunk outside a body, a reply text containing CR or LF, data after the connection was
closed). Mistakes by the client are never exceptions: they become ``BadCommand`` events carrying
the ``-ERR`` reply to send. ``RemoteProtocolError`` is for an I/O layer that wants to abort a
session on a client's fault and carry the ``-ERR`` goodbye along with the exception.
"""

from __future__ import annotations

from pop3srv.protocol.events import Err


class ProtocolError(Exception):
    """Base class of the POP3 protocol errors."""


class LocalProtocolError(ProtocolError):
    """The server side used the ``Connection`` (or the writer) in a way the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The client broke the protocol beyond repair; ``reply`` is the ``-ERR`` to close with."""

    def __init__(self, reply: Err) -> None:
        super().__init__(reply.text)
        self.reply = reply
