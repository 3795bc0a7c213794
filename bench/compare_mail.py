"""The mail of ``bench.compare_dovecot``: the generated messages, the mailboxes they fill (one
user per mailbox, with its password), what a RETR of each must send, and pop3srv's folder
layout for them. Pure data and file writing; no server and no client here (Dovecot's Maildirs
are written by ``bench.dovecot_instance``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.retr import PASSWORD

BASE_TIME = 1_700_000_000
DOT_EVERY = 7  # every 7th body line of the small messages starts with "." (dot-stuffing)


def big_message(mib: int) -> bytes:
    """Exactly ``mib`` MiB, CRLF lines of 74 octets, a dot-line every 1,000 lines."""
    size = mib * 2**20
    head = b"From: sender@example.com\r\nTo: bench@example.com\r\nSubject: big\r\n\r\n"
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    dotted = b"." + line[1:]
    block = line * 999 + dotted
    body = head + block * ((size - len(head)) // len(block) + 1)
    body = body[: size - 2]
    if body.endswith(b"\r"):
        body = body[:-1] + b"x"
    return body + b"\r\n"


def small_message(index: int) -> bytes:
    """~1.5 KiB, CRLF, with a unique subject and some lines that need dot-stuffing."""
    lines = [
        b"From: sender@example.com",
        b"To: bench@example.com",
        f"Subject: message {index}".encode(),
        f"Message-ID: <{index}.bench@example.com>".encode(),
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000",
        b"",
    ]
    for n in range(19):
        text = f"line {n:02d} of message {index:06d}: the quick brown fox jumps over the dog"
        lines.append(("." if n % DOT_EVERY == 3 else "").encode() + text.encode())
    return b"\r\n".join(lines) + b"\r\n"


def wire_body(message: bytes) -> bytes:
    """What a RETR must send after the status line, terminator excluded (CRLF input)."""
    return re.sub(rb"(?m)^\.", b"..", message)


def write_folder(directory: Path, messages: Sequence[bytes]) -> None:
    """pop3srv's layout: one file per message, numbered by mtime then name."""
    directory.mkdir(parents=True, exist_ok=True)
    for index, body in enumerate(messages):
        path = directory / f"msg-{index:06d}"
        path.write_bytes(body)
        os.utime(path, (BASE_TIME + index, BASE_TIME + index))


def password_of(user: str) -> str:
    return f"pw-{user}-{PASSWORD}"


@dataclass
class Mail:
    big: bytes
    many: list[bytes]
    small: list[bytes]
    per_client: list[bytes]
    clients: int

    def users(self) -> dict[str, list[bytes]]:
        out = {"big": [self.big], "many": self.many, "small": self.small}
        out.update({f"c{n:03d}": self.per_client for n in range(self.clients)})
        return out
