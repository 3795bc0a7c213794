"""LineBuffer: framing on CRLF / bare LF at any split, over-long lines, bounded memory."""

from __future__ import annotations

import pytest

from pop3srv.protocol.buffer import TOO_LONG, LineBuffer, Overlong
from tests.protocol.support import chunkings


def drain(buf: LineBuffer) -> list[bytes | Overlong]:
    lines: list[bytes | Overlong] = []
    while (line := buf.next_line()) is not None:
        lines.append(line)
    return lines


def feed_all(chunks: list[bytes], max_line: int = 10) -> tuple[list[bytes | Overlong], LineBuffer]:
    buf = LineBuffer(max_line)
    for chunk in chunks:
        buf.feed(chunk)
    return drain(buf), buf


FRAMING = [
    ("crlf", b"STAT\r\n", [b"STAT"]),
    ("bare_lf", b"STAT\n", [b"STAT"]),
    ("several_mixed_terminators", b"A\r\nB\nC\r\n", [b"A", b"B", b"C"]),
    ("empty_line_crlf", b"\r\n", [b""]),
    ("empty_line_lf", b"\n", [b""]),
    ("only_one_trailing_cr_stripped", b"A\r\r\n", [b"A\r"]),
    ("inner_cr_kept", b"A\rB\r\n", [b"A\rB"]),
    ("lone_cr_is_not_a_terminator", b"A\rB\r", []),
    ("unfinished_line_not_returned", b"STAT", []),
    ("complete_then_unfinished", b"NOOP\r\nST", [b"NOOP"]),
    ("eight_bit_bytes_kept", b"PASS \xff\xfe\r\n", [b"PASS \xff\xfe"]),
    ("nul_kept", b"A\x00B\n", [b"A\x00B"]),
    ("exactly_max_line_with_crlf", b"x" * 10 + b"\r\n", [b"x" * 10]),
    ("exactly_max_line_with_lf", b"x" * 10 + b"\n", [b"x" * 10]),
    ("one_over_max_line", b"x" * 11 + b"\r\n", [TOO_LONG]),
    ("max_line_plus_extra_cr_is_too_long", b"x" * 10 + b"\r\r\n", [TOO_LONG]),
    ("too_long_then_next_line", b"x" * 30 + b"\r\nNOOP\r\n", [TOO_LONG, b"NOOP"]),
    ("lines_before_too_long_come_first", b"A\nB\n" + b"y" * 40, [b"A", b"B", TOO_LONG]),
    ("two_too_long_lines", b"x" * 12 + b"\n" + b"z" * 25 + b"\nOK\n", [TOO_LONG, TOO_LONG, b"OK"]),
    ("empty_input", b"", []),
]


@pytest.mark.parametrize(
    ("data", "expected"), [c[1:] for c in FRAMING], ids=[c[0] for c in FRAMING]
)
def test_framing_is_independent_of_chunking(data: bytes, expected: list[bytes | Overlong]) -> None:
    for chunks in chunkings(data):
        lines, _ = feed_all(chunks)
        assert lines == expected, chunks


def test_too_long_is_reported_before_the_line_ends() -> None:
    buf = LineBuffer(10)
    buf.feed(b"x" * 11)
    assert buf.next_line() is TOO_LONG
    buf.feed(b"more without a newline")
    assert buf.next_line() is None
    buf.feed(b"\r\nNOOP\r\n")
    assert drain(buf) == [b"NOOP"]


def test_pending_cr_at_the_limit_is_not_yet_too_long() -> None:
    buf = LineBuffer(10)
    buf.feed(b"x" * 10 + b"\r")
    assert buf.next_line() is None
    buf.feed(b"\n")
    assert buf.next_line() == b"x" * 10


def test_one_mib_line_without_lf_keeps_memory_bounded_and_reports_once() -> None:
    buf = LineBuffer(255)
    chunk = b"A" * 4096
    reports = 0
    for _ in range(256):  # 1 MiB
        buf.feed(chunk)
        assert buf.buffered <= 256
        reports += len(drain(buf))
    assert reports == 1
    buf.feed(b"still the same line\r\nNOOP\r\n")
    assert drain(buf) == [b"NOOP"]


def test_one_mib_line_in_a_single_feed_is_not_stored() -> None:
    buf = LineBuffer(255)
    buf.feed(b"A" * (1 << 20) + b"\r\nNOOP\r\n")
    assert buf.buffered == len(b"NOOP")
    assert drain(buf) == [TOO_LONG, b"NOOP"]


def test_byte_by_byte_long_line_never_holds_more_than_max_line_plus_one() -> None:
    buf = LineBuffer(16)
    for _ in range(1000):
        buf.feed(b"B")
        assert buf.buffered <= 17
    assert drain(buf) == [TOO_LONG]


def test_buffered_counts_complete_and_unfinished_lines() -> None:
    buf = LineBuffer(10)
    buf.feed(b"AB\r\nCDE")
    assert buf.buffered == 5
    assert buf.next_line() == b"AB"
    assert buf.buffered == 3


def test_clear_forgets_lines_unfinished_data_and_discarding() -> None:
    buf = LineBuffer(10)
    buf.feed(b"NOOP\r\nSTAT\r\n" + b"x" * 20)
    buf.clear()
    assert buf.buffered == 0
    assert buf.next_line() is None
    buf.feed(b"CAPA\r\n")  # not swallowed as the tail of the discarded over-long line
    assert drain(buf) == [b"CAPA"]


def test_max_line_is_exposed() -> None:
    assert LineBuffer(42).max_line == 42


@pytest.mark.parametrize("max_line", [0, -1])
def test_non_positive_max_line_is_rejected(max_line: int) -> None:
    with pytest.raises(ValueError):
        LineBuffer(max_line)


@pytest.mark.parametrize(
    ("feeds", "expected"),
    [
        ([b"NOOP\r\n"], None),  # whole lines: nothing unfinished
        ([b"NO"], 0),
        ([b"NO", b"O"], 0),  # the same line, grown
        ([b"NOOP\r\nST"], 6),  # a new line began after the first
        ([b"NO", b"OP\r\nST"], 6),
        ([b"NO", b"OP\r\nSTAT\r\n"], None),
        ([b"NOOP\r", b"\n"], None),
        ([b"NOOP\r"], 0),  # a CR is not the end yet
        ([b"X" * 20], 0),  # over-long (max 8): discarded, still unfinished
        ([b"NOOP\r\n", b"X" * 5, b"X" * 5], 6),  # over-long once its second piece came
        ([b"NOOP\r\n", b"X" * 20, b"XX"], 6),  # its rest trickled: the same line
        ([b"X" * 20, b"\r\nNO"], 22),  # its LF ended it; a new line began
    ],
)
def test_unfinished_from_names_where_the_unfinished_line_began(
    feeds: list[bytes], expected: int | None
) -> None:
    buf = LineBuffer(8)
    for data in feeds:
        buf.feed(data)
    assert buf.unfinished_from == expected


def test_unfinished_from_is_never_reused_after_clear() -> None:
    buf = LineBuffer(8)
    buf.feed(b"STLS\r\nUS")
    assert buf.unfinished_from == 6
    buf.clear()
    assert buf.unfinished_from is None
    buf.feed(b"US")  # a new line, after TLS: not the offset of the one dropped
    assert buf.unfinished_from == 8
