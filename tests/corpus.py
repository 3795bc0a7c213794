"""Hard messages for byte-exactness tests, and what a POP3 client must receive for each."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HEADER = b"From: a@example.com\r\nTo: b@example.com\r\n"

CORPUS: dict[str, bytes] = {
    "dots": HEADER + b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\nmid.dle\r\n.\r\nend\r\n",
    "only-dot-line": HEADER + b"Subject: only dot\r\n\r\n.\r\n",
    "bare-lf": b"From: a@example.com\nSubject: bare lf\n\nline one\n.dot after lf\nline three\n",
    "mixed-endings": HEADER + b"Subject: mixed\r\n\r\ncrlf\r\nlf\n.dot\ncrlf again\r\n",
    "crlf": HEADER + b"Subject: crlf\r\n\r\nplain body line\r\nsecond line\r\n",
    "no-final-newline": HEADER + b"Subject: no newline\r\n\r\nthe last line has no end",
    "no-final-newline-dot": HEADER + b"Subject: dot end\r\n\r\n.",
    "eight-bit": HEADER
    + b"Subject: 8bit\r\nContent-Type: text/plain; charset=latin-1\r\n\r\n"
    + bytes(range(0x80, 0x100))
    + b"\r\ncaf\xe9 \xfc\xf6\xe4\r\n",
    "long-lines": HEADER
    + b"Subject: long\r\n\r\n"
    + b"x" * 5000
    + b"\r\n."
    + b"y" * 1200
    + b"\r\n",
    "empty-body": HEADER + b"Subject: empty body\r\n\r\n",
    "headers-only": HEADER + b"Subject: no blank line",
    "nul-and-controls": HEADER + b"Subject: ctl\r\n\r\na\x00b\x01c\x7f\r\n",
}

BIG_NAME = "big-40mb"
BIG_SIZE = 40 * 1024 * 1024


def expected_on_wire(raw: bytes) -> bytes:
    """What RETR must deliver (after unstuffing): bare LF as CRLF, a final line end."""
    normalised = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if normalised and not normalised.endswith(b"\r\n"):
        normalised += b"\r\n"
    return normalised


def big_message() -> bytes:
    """A 40 MiB SES-like message (CRLF, base64-like lines, some starting with a dot)."""
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    dotted = b"." + line[1:]
    header = HEADER + b"Subject: big attachment\r\n\r\n"
    block = (line * 63 + dotted) * 16
    body_size = BIG_SIZE - len(header)
    body = (block * (body_size // len(block) + 1))[:body_size]
    return header + body[:-2] + b"\r\n"


def write_corpus(directory: Path, *, big: bool = False) -> dict[str, bytes]:
    """Write the corpus as message files with increasing mtimes; returns name -> raw bytes."""
    messages = dict(CORPUS)
    if big:
        messages[BIG_NAME] = big_message()
    write_folder(directory, messages)
    return messages


def write_folder(directory: Path, messages: dict[str, bytes]) -> None:
    """Message files with increasing mtimes (the folder store numbers by mtime, then name)."""
    directory.mkdir(parents=True, exist_ok=True)
    for index, (name, raw) in enumerate(messages.items()):
        path = directory / name
        path.write_bytes(raw)
        os.utime(path, (1_700_000_000 + index, 1_700_000_000 + index))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
