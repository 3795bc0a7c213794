"""TopFilter: headers, the blank line and n body lines, for CRLF and bare LF, at every split."""

from __future__ import annotations

import pytest

from pop3srv.protocol.top import TopFilter
from pop3srv.protocol.writer import BodyEncoder
from tests.protocol.support import chunkings

CRLF_MESSAGE = b"From: a\r\nSubject: b\r\n\r\nline1\r\n\r\nline3\r\n"
LF_MESSAGE = CRLF_MESSAGE.replace(b"\r\n", b"\n")
CRLF_HEAD = b"From: a\r\nSubject: b\r\n\r\n"
LF_HEAD = CRLF_HEAD.replace(b"\r\n", b"\n")

# (id, message, lines, expected output, whether the cut is reached before the end)
CASES = [
    ("crlf_0_lines", CRLF_MESSAGE, 0, CRLF_HEAD, True),
    ("crlf_1_line", CRLF_MESSAGE, 1, CRLF_HEAD + b"line1\r\n", True),
    ("crlf_2_lines_counts_blank_body_line", CRLF_MESSAGE, 2, CRLF_HEAD + b"line1\r\n\r\n", True),
    ("crlf_exactly_all_lines", CRLF_MESSAGE, 3, CRLF_MESSAGE, True),
    ("crlf_more_than_all_lines", CRLF_MESSAGE, 10, CRLF_MESSAGE, False),
    ("lf_0_lines", LF_MESSAGE, 0, LF_HEAD, True),
    ("lf_1_line", LF_MESSAGE, 1, LF_HEAD + b"line1\n", True),
    ("lf_all_lines", LF_MESSAGE, 99, LF_MESSAGE, False),
    ("no_blank_line_is_all_headers", b"A: 1\r\nB: 2\r\n", 0, b"A: 1\r\nB: 2\r\n", False),
    ("no_blank_line_no_final_newline", b"A: 1\nB: 2", 5, b"A: 1\nB: 2", False),
    ("empty_message", b"", 3, b"", False),
    ("no_headers_crlf", b"\r\nbody1\r\nbody2\r\n", 1, b"\r\nbody1\r\n", True),
    ("no_headers_lf_0", b"\nbody\n", 0, b"\n", True),
    ("unterminated_last_body_line", b"H: v\n\nl1\nl2", 5, b"H: v\n\nl1\nl2", False),
    ("unterminated_last_body_line_cut", b"H: v\n\nl1\nl2", 1, b"H: v\n\nl1\n", True),
    ("mixed_crlf_headers_lf_blank", b"H: v\r\n\nbody\r\n", 0, b"H: v\r\n\n", True),
    ("cr_inside_header_not_blank", b"H: a\rb\r\n\r\nx\r\n", 0, b"H: a\rb\r\n\r\n", True),
    ("cr_cr_lf_line_is_not_blank", b"A: 1\n\r\r\nB: 2\n\nbody\n", 0, b"A: 1\n\r\r\nB: 2\n\n", True),
    ("folded_header", b"S: a\r\n  b\r\n\r\nbody\r\n", 0, b"S: a\r\n  b\r\n\r\n", True),
    ("dot_lines_passed_raw", b"H: v\n\n.a\n.\nz\n", 2, b"H: v\n\n.a\n.\n", True),
]


@pytest.mark.parametrize(
    ("message", "lines", "expected", "cut"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_top_output_at_every_split(message: bytes, lines: int, expected: bytes, cut: bool) -> None:
    for chunks in chunkings(message):
        top = TopFilter(lines)
        out = bytearray()
        for chunk in chunks:
            out += top.feed(chunk)
        assert bytes(out) == expected, chunks
        assert top.done is cut, chunks


@pytest.mark.parametrize(
    ("message", "lines", "expected", "cut"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_top_is_done_right_after_the_last_needed_byte(
    message: bytes, lines: int, expected: bytes, cut: bool
) -> None:
    top = TopFilter(lines)
    for i, byte in enumerate(expected):
        assert not top.done, i
        assert top.feed(bytes([byte])) == bytes([byte])
    assert top.done is cut
    if cut:
        assert top.feed(message[len(expected) :]) == b""


def test_feeding_after_done_returns_nothing() -> None:
    top = TopFilter(0)
    assert top.feed(CRLF_MESSAGE) == CRLF_HEAD
    assert top.done
    assert top.feed(b"more\r\n") == b""


def test_whole_message_at_once_with_data_after_the_cut() -> None:
    top = TopFilter(1)
    assert top.feed(LF_MESSAGE + b"extra\n") == LF_HEAD + b"line1\n"


def test_top_then_body_encoder_gives_the_wire_reply() -> None:
    top, encoder = TopFilter(2), BodyEncoder()
    wire = encoder.encode(top.feed(b"S: x\n\n.one\ntwo\nthree\n")) + encoder.finish()
    assert wire == b"S: x\r\n\r\n..one\r\ntwo\r\n.\r\n"


def test_negative_line_count_is_rejected() -> None:
    with pytest.raises(ValueError):
        TopFilter(-1)
