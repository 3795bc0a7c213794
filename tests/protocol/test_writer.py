"""Writer: status lines, multi-line replies, and the streamed body encoder at every split."""

from __future__ import annotations

import random
import re

import pytest

from pop3srv.protocol.errors import LocalProtocolError
from pop3srv.protocol.events import BeginData, Continue, Data, Err, MultiLine, Ok
from pop3srv.protocol.writer import BodyEncoder, encode_lines, encode_reply
from tests.protocol.support import SEED, chunkings

REPLIES = [
    ("ok_empty", Ok(), b"+OK\r\n"),
    ("ok_text", Ok("2 messages"), b"+OK 2 messages\r\n"),
    ("ok_utf8", Ok("gr\u00fc\u00df"), "+OK gr\u00fc\u00df\r\n".encode()),
    ("err", Err("no such message"), b"-ERR no such message\r\n"),
    ("err_code", Err("bad login", "AUTH"), b"-ERR [AUTH] bad login\r\n"),
    ("err_hierarchic_code", Err("try later", "SYS/TEMP"), b"-ERR [SYS/TEMP] try later\r\n"),
    ("err_in_use", Err("locked", "IN-USE"), b"-ERR [IN-USE] locked\r\n"),
    ("err_empty_text", Err(""), b"-ERR\r\n"),
    ("err_code_only", Err("", "LOGIN-DELAY"), b"-ERR [LOGIN-DELAY]\r\n"),
    ("continue_empty", Continue(), b"+ \r\n"),
    ("continue_challenge", Continue("PDE4OTYu"), b"+ PDE4OTYu\r\n"),
    ("begin_data", BeginData("120 octets"), b"+OK 120 octets\r\n"),
    ("begin_data_empty", BeginData(), b"+OK\r\n"),
    ("multiline_empty", MultiLine("0 messages"), b"+OK 0 messages\r\n.\r\n"),
    (
        "multiline_lines",
        MultiLine("2 messages", ["1 120", "2 200"]),
        b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n",
    ),
    (
        "multiline_dot_stuffed",
        MultiLine("", [".", ".hidden", "a.b", ""]),
        b"+OK\r\n..\r\n..hidden\r\na.b\r\n\r\n.\r\n",
    ),
]


@pytest.mark.parametrize(("reply", "wire"), [c[1:] for c in REPLIES], ids=[c[0] for c in REPLIES])
def test_reply_bytes(reply: Ok | Err | Continue | MultiLine | BeginData, wire: bytes) -> None:
    assert encode_reply(reply) == wire


BAD_REPLIES = [
    ("ok_cr", Ok("a\rb")),
    ("ok_lf", Ok("a\nb")),
    ("err_crlf", Err("x\r\n-ERR injected")),
    ("continue_lf", Continue("a\n")),
    ("multiline_text_lf", MultiLine("a\nb")),
    ("multiline_line_crlf", MultiLine("ok", ["1 2\r\n3 4"])),
    ("begin_data_cr", BeginData("\r")),
    ("lone_surrogate", Ok("\ud800")),
    ("code_with_space", Err("x", "SYS TEMP")),
    ("code_with_bracket", Err("x", "A]B")),
    ("code_empty", Err("x", "")),
    ("code_empty_level", Err("x", "SYS//TEMP")),
    ("code_trailing_slash", Err("x", "SYS/")),
    ("code_non_ascii", Err("x", "\u00c4")),
]


@pytest.mark.parametrize("reply", [c[1] for c in BAD_REPLIES], ids=[c[0] for c in BAD_REPLIES])
def test_unencodable_replies_raise(reply: Ok | Err | Continue | MultiLine | BeginData) -> None:
    with pytest.raises(LocalProtocolError):
        encode_reply(reply)


def test_body_chunks_are_not_complete_replies() -> None:
    with pytest.raises(LocalProtocolError):
        encode_reply(Data(b"x"))  # type: ignore[arg-type]


def test_encode_lines_alone() -> None:
    assert encode_lines([".a", "b"]) == b"..a\r\nb\r\n.\r\n"
    assert encode_lines([]) == b".\r\n"


# body -> bytes after the status line, terminator included
BODIES = [
    ("empty", b"", b".\r\n"),
    ("one_crlf_line", b"hello\r\n", b"hello\r\n.\r\n"),
    ("no_final_newline", b"hello", b"hello\r\n.\r\n"),
    ("bare_lf", b"a\nb\n", b"a\r\nb\r\n.\r\n"),
    ("bare_lf_no_final_newline", b"a\nb", b"a\r\nb\r\n.\r\n"),
    ("mixed_terminators", b"a\r\nb\nc\r\n", b"a\r\nb\r\nc\r\n.\r\n"),
    ("empty_lines", b"\n\r\n\n", b"\r\n\r\n\r\n.\r\n"),
    ("leading_dot", b".hidden\r\n", b"..hidden\r\n.\r\n"),
    ("leading_dot_first_line_no_newline", b".", b"..\r\n.\r\n"),
    ("line_only_dot", b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
    ("line_only_dot_bare_lf", b"a\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
    ("last_line_only_dot", b"a\r\n.", b"a\r\n..\r\n.\r\n"),
    ("two_dots", b"..\r\n", b"...\r\n.\r\n"),
    ("dot_after_bare_lf", b"x\n.y\n", b"x\r\n..y\r\n.\r\n"),
    ("dot_inside_line_untouched", b"a.b\r\n. .\r\n", b"a.b\r\n.. .\r\n.\r\n"),
    ("lone_cr_kept", b"a\rb\r\n", b"a\rb\r\n.\r\n"),
    ("dot_after_lone_cr_not_stuffed", b"a\r.b\r\n", b"a\r.b\r\n.\r\n"),
    ("cr_cr_lf", b"a\r\r\n", b"a\r\r\n.\r\n"),
    ("trailing_lone_cr", b"a\r", b"a\r\r\n.\r\n"),
    ("only_cr", b"\r", b"\r\r\n.\r\n"),
    ("lf_cr", b"\n\r", b"\r\n\r\r\n.\r\n"),
    ("eight_bit", b"caf\xc3\xa9 \xff\x80\n", b"caf\xc3\xa9 \xff\x80\r\n.\r\n"),
    ("nul", b"a\x00b\n", b"a\x00b\r\n.\r\n"),
    ("line_over_998_octets", b"x" * 2000 + b"\r\n", b"x" * 2000 + b"\r\n.\r\n"),
    ("crlf_dot_crlf_in_body", b"a\r\n.\r\n", b"a\r\n..\r\n.\r\n"),
]


def encode_body(chunks: list[bytes]) -> bytes:
    encoder = BodyEncoder()
    return b"".join(encoder.encode(chunk) for chunk in chunks) + encoder.finish()


@pytest.mark.parametrize(("body", "wire"), [c[1:] for c in BODIES], ids=[c[0] for c in BODIES])
def test_body_bytes_at_every_split(body: bytes, wire: bytes) -> None:
    for chunks in chunkings(body):
        assert encode_body(chunks) == wire, chunks


def reference_encoding(body: bytes) -> bytes:
    """Whole-message model: lines end at LF (CR before it dropped), dot-stuff, CRLF, dot."""
    lines = re.split(rb"\r?\n", body) if body else []
    if body.endswith(b"\n"):
        lines.pop()
    return b"".join(b"." * line.startswith(b".") + line + b"\r\n" for line in lines) + b".\r\n"


def test_reference_model_agrees_with_the_table() -> None:
    for _, body, wire in BODIES:
        assert reference_encoding(body) == wire


def test_random_bodies_and_random_splits_match_the_reference() -> None:
    rng = random.Random(SEED)
    alphabet = [b".", b"\r", b"\n", b"a", b"\xff", b"\r\n", b"\n."]
    for _ in range(300):
        body = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        expected = reference_encoding(body)
        for chunks in chunkings(body, exhaustive_up_to=0, randoms=10):
            assert encode_body(chunks) == expected, chunks


def test_empty_chunks_change_nothing() -> None:
    assert encode_body([b"", b".a\r", b"", b"\n", b""]) == b"..a\r\n.\r\n"


def test_held_cr_is_not_emitted_until_the_next_chunk() -> None:
    encoder = BodyEncoder()
    assert encoder.encode(b"line\r") == b"line"
    assert encoder.encode(b"\n.next") == b"\r\n..next"
    assert encoder.finish() == b"\r\n.\r\n"


def test_body_encoder_is_single_use() -> None:
    encoder = BodyEncoder()
    encoder.finish()
    with pytest.raises(LocalProtocolError):
        encoder.encode(b"x")
    with pytest.raises(LocalProtocolError):
        encoder.finish()
