"""The POP3 client of ``bench.compare_dovecot``, the same code for every server: a
``bench.retr.Client`` that checks every reply and drains message bodies in blocks.
"""

from __future__ import annotations

import io
from typing import cast

from bench.compare_mail import password_of
from bench.retr import Client


class BenchClient(Client):
    """``bench.retr.Client`` with a body drain that reads blocks instead of lines (so the
    Python client is not what limits a 40 MiB RETR) and checks every reply."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.sock.settimeout(300)
        self.reader = cast(io.BufferedReader, self.file)

    def ok(self, text: str) -> bytes:
        reply = self.command(text)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"{text.split(maxsplit=1)[0]}: {reply!r}")
        return reply

    def login(self, user: str, password: str) -> None:
        self.ok(f"USER {user}")
        self.ok(f"PASS {password}")

    def drain_body(self) -> int:
        total, tail = 0, b"\r\n"  # the status line ended a line
        while True:
            chunk = self.reader.read1(1 << 20)
            if not chunk:
                raise ConnectionError("closed inside a body")
            total += len(chunk)
            # "\r\n.\r\n" can only be the terminator (a body line "." is sent as ".."), and
            # nothing follows it (no pipelining): the reply ends when the data so far does
            if (tail + chunk).endswith(b"\r\n.\r\n"):
                return total - 3
            tail = (tail + chunk)[-4:]

    def read_body(self) -> bytes:
        parts, tail = [], b"\r\n"
        while True:
            chunk = self.reader.read1(1 << 20)
            if not chunk:
                raise ConnectionError("closed inside a body")
            parts.append(chunk)
            if (tail + chunk).endswith(b"\r\n.\r\n"):
                return b"".join(parts)[:-3]
            tail = (tail + chunk)[-4:]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def read_mailbox(port: int, user: str, count: int, *, delete: bool = False) -> None:
    """One session over ``count`` messages, each command sent after the previous reply was
    read: login, UIDL, ``RETR n`` of every message (with ``delete``, ``DELE n`` after each,
    then RSET: nothing is deleted), QUIT."""
    client = BenchClient(port)
    client.login(user, password_of(user))
    client.ok("UIDL")
    client.drain_body()
    for number in range(1, count + 1):
        client.ok(f"RETR {number}")
        client.drain_body()
        if delete:
            client.ok(f"DELE {number}")
    if delete:
        client.ok("RSET")
    client.ok("QUIT")
    client.close()
