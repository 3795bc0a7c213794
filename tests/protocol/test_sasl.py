"""SASL PLAIN (RFC 4616) and the base64 response layer of RFC 5034."""

from __future__ import annotations

import base64

import pytest

from pop3srv.protocol.sasl import decode_plain, decode_response, encode_plain, encode_response


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


GOOD = [
    ("no_authzid", b64(b"\x00alice\x00secret"), ("", "alice", "secret")),
    ("with_authzid", b64(b"admin\x00alice\x00secret"), ("admin", "alice", "secret")),
    ("password_with_spaces", b64(b"\x00alice\x00two words "), ("", "alice", "two words ")),
    ("utf8", b64("\x00j\u00f6rg\x00p\u00e4ss".encode()), ("", "j\u00f6rg", "p\u00e4ss")),
    ("surrounding_spaces_tolerated", " " + b64(b"\x00a\x00b") + " ", ("", "a", "b")),
    ("long_password", b64(b"\x00alice\x00" + b"p" * 5000), ("", "alice", "p" * 5000)),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in GOOD], ids=[c[0] for c in GOOD])
def test_decode_plain(text: str, expected: tuple[str, str, str]) -> None:
    assert decode_plain(text) == expected


BAD = [
    ("equals_means_empty", "="),
    ("empty", ""),
    ("not_base64", "!!!!"),
    ("missing_padding", b64(b"\x00alice\x00secret").rstrip("=")),
    ("inner_space", "AGFs aWNl"),
    ("non_ascii_text", "\u00e9t\u00e9"),
    ("surrogate_text", "\udcff"),
    ("one_nul", b64(b"alice\x00secret")),
    ("three_nuls", b64(b"\x00alice\x00sec\x00ret")),
    ("empty_authcid", b64(b"\x00\x00secret")),
    ("empty_password", b64(b"\x00alice\x00")),
    ("not_utf8", b64(b"\x00al\xffice\x00secret")),
]


@pytest.mark.parametrize("text", [c[1] for c in BAD], ids=[c[0] for c in BAD])
def test_decode_plain_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        decode_plain(text)


@pytest.mark.parametrize(
    "fields", [("", "alice", "secret"), ("z", "u\u00e9", "p w d"), ("", "a", "=")]
)
def test_encode_plain_round_trips(fields: tuple[str, str, str]) -> None:
    assert decode_plain(encode_plain(*fields)) == fields


def test_encode_plain_is_rfc_4616_bytes() -> None:
    assert encode_plain("", "tim", "tanstaaftanstaaf") == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"


@pytest.mark.parametrize("fields", [("\x00", "a", "b"), ("", "a\x00", "b"), ("", "a", "b\x00")])
def test_encode_plain_refuses_nul(fields: tuple[str, str, str]) -> None:
    with pytest.raises(ValueError):
        encode_plain(*fields)


@pytest.mark.parametrize(
    ("text", "data"), [("=", b""), ("YWJj", b"abc"), (" YWJj ", b"abc"), ("", b"")]
)
def test_decode_response(text: str, data: bytes) -> None:
    assert decode_response(text) == data


@pytest.mark.parametrize("text", ["YWJ", "Y*Jj", "=="])
def test_decode_response_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        decode_response(text)


@pytest.mark.parametrize(("data", "text"), [(b"", "="), (b"abc", "YWJj")])
def test_encode_response(data: bytes, text: str) -> None:
    assert encode_response(data) == text
    assert decode_response(text) == data
