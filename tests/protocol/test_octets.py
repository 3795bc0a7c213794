"""WireSize: the octets RETR delivers, counted without sending (RFC 1939 section 11)."""

from __future__ import annotations

import random

import pytest

from pop3srv.protocol.octets import WireSize, wire_size
from pop3srv.protocol.writer import BodyEncoder
from tests.corpus import CORPUS, expected_on_wire
from tests.protocol.support import chunkings

TABLE = [
    ("empty", b"", 0),
    ("crlf_line", b"a\r\n", 3),
    ("bare_lf_line", b"a\n", 3),
    ("no_terminator", b"a", 3),
    ("lone_cr_at_end", b"a\r", 4),
    ("lone_cr_inside", b"a\rb\r\n", 5),
    ("bare_lf_only", b"\n\n", 4),
    ("mixed", b"x\r\ny\nz", 3 + 3 + 3),
    ("dots_are_not_counted_twice", b".\r\n..\n", 3 + 4),
]


@pytest.mark.parametrize(("raw", "size"), [c[1:] for c in TABLE], ids=[c[0] for c in TABLE])
def test_wire_size_table(raw: bytes, size: int) -> None:
    assert wire_size(raw) == size
    assert size == len(expected_on_wire(raw))


def _unstuffed(raw: bytes) -> bytes:
    """What a client keeps of BodyEncoder's output: terminator removed, dots unstuffed."""
    encoder = BodyEncoder()
    wire = encoder.encode(raw) + encoder.finish()
    assert wire.endswith(b".\r\n")
    lines = wire[: -len(b".\r\n")].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_size_is_what_the_encoder_sends_at_every_chunking(name: str) -> None:
    raw = CORPUS[name]
    expected = len(_unstuffed(raw))
    assert expected == len(expected_on_wire(raw))
    for chunks in chunkings(raw, exhaustive_up_to=0, randoms=30):
        counter = WireSize()
        for chunk in chunks:
            counter.feed(chunk)
        assert counter.total == expected, chunks


def test_random_messages_match_the_encoder() -> None:
    rng = random.Random(1939)
    alphabet = [b"\r", b"\n", b"\r\n", b".", b"a", b"\x00"]
    for _ in range(500):
        raw = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert wire_size(raw) == len(_unstuffed(raw)), raw
