"""The second hard corpus, for the client matrix (tests/e2e/test_clients_matrix5.py): messages
the first corpus (tests/corpus.py) lacks, stored under names that are hard as UIDLs.

Each message is stored under its key: a file name in the folder store, an object key (after
the prefix) in S3. Keys with a space, non-ASCII letters or more than 70 characters cannot be
UIDLs as they are (RFC 1939 section 7: 1-70 characters 0x21-0x7E); pop3srv sends a digest for
them, and the tests check the UIDLs a client sees are valid, distinct and stable.
"""

from __future__ import annotations

from tests.corpus import expected_on_wire, write_folder

_HEAD = b"From: a@example.com\r\nTo: b@example.com\r\n"


def _line(size: int) -> bytes:
    """A body line of exactly ``size`` octets before its CRLF (RFC 5322's limit is 998)."""
    return (b"0123456789abcdef" * (size // 16 + 1))[:size]


#: key -> raw stored bytes, in the order they are written (and numbered, by mtime)
HARD: dict[str, bytes] = {
    "lf-only": b"From: a@example.com\nSubject: lf only\n\none\n.dot\n..two\n.\n\nlast\n",
    "crlf": _HEAD + b"Subject: crlf\r\n\r\none\r\n.dot\r\n..two\r\n.\r\nlast\r\n",
    "mixed endings": _HEAD + b"Subject: mixed\r\n\r\ncrlf\r\nlf\n.\ncrlf\r\n..\nend",
    "cr-alone": _HEAD + b"Subject: cr alone\r\n\r\nbefore\rafter\r\n\rat start\r\nend\r",
    "no-final-newline": _HEAD + b"Subject: no final newline\r\n\r\nlast line ..",
    "dot-lines": _HEAD + b"Subject: dots\r\n\r\n.\r\n..\r\n...\r\n. \r\n.x\r\n.\n.\r\n",
    "line-998": _HEAD + b"Subject: 998\r\n\r\n" + _line(998) + b"\r\n." + _line(997) + b"\r\n",
    "line-999": _HEAD + b"Subject: 999\r\n\r\n" + _line(999) + b"\r\nok\r\n",
    "line-1000+": _HEAD + b"Subject: 1000+\r\n\r\n" + _line(1000) + b"\r\n" + _line(1001) + b"\n",
    "one-mib-line": _HEAD + b"Subject: one MiB line\r\n\r\n." + _line(1024 * 1024 - 1) + b"\r\n",
    "nul-8bit-invalid-utf8": _HEAD
    + b"Subject: =?utf-8?q?caf=C3=A9?= \xc3\xa9\xff\r\n\r\n"
    + b"nul\x00here\x00\r\ninvalid \xc3\x28 \xa0\xa1 \xf0\x28\x8c\x28 \xc0\xaf \xed\xa0\x80\r\n"
    + b"latin-1 caf\xe9\r\n\x00\r\n",
    "empty": b"",
    "headers-only": _HEAD + b"Subject: headers only\r\n",
    "from-lines": _HEAD
    + b"Subject: From lines\r\n\r\nFrom here to there\r\nFrom me\r\n>From quoted\r\n"
    + b">>From twice\r\n\r\nFrom a@example.com Mon Nov 30 18:00:00 2026\r\nend\r\n",
    "ünïcödé ✉ key": _HEAD + b"Subject: unicode key\r\n\r\nbody\r\n",
    "k" * 71: _HEAD + b"Subject: long key\r\n\r\nbody\r\n",
}

BIG_KEY = "big 30 MiB lf"
BIG_SIZE = 30 * 1024 * 1024


def big_lf_message() -> bytes:
    """A 30 MiB message with bare LF line ends and dot lines: 2.6% longer on the wire."""
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\n"
    block = (line * 31 + b"." + line[1:]) * 32
    header = b"From: a@example.com\nSubject: big lf\n\n"
    body = block * ((BIG_SIZE - len(header)) // len(block) + 1)
    return header + body[: BIG_SIZE - len(header) - 1] + b"\n"


def top_of(wire: bytes, lines: int) -> bytes:
    """What ``TOP msg lines`` sends (unstuffed), computed from the RETR bytes independently of
    pop3srv/protocol/top.py: the header lines, the empty line after them, ``lines`` body lines."""
    parts = wire.split(b"\r\n")[:-1]  # the wire form always ends with CRLF (or is empty)
    if b"" not in parts:
        return wire
    blank = parts.index(b"")
    kept = parts[: blank + 1 + lines]
    return b"".join(part + b"\r\n" for part in kept)


__all__ = ["BIG_KEY", "HARD", "expected_on_wire", "top_of", "write_folder"]
