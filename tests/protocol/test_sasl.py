"""SASL PLAIN (RFC 4616), LOGIN, the exchange steps and the base64 layer of RFC 5034."""

from __future__ import annotations

import base64

import pytest

from pop3srv.protocol.sasl import (
    MECHANISMS,
    Credentials,
    SaslExchange,
    decode_plain,
    decode_response,
    encode_plain,
    encode_response,
)


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


# --- SaslExchange: PLAIN and LOGIN step by step ---------------------------------------------

USER_PROMPT = b64(b"Username:")
PASSWORD_PROMPT = b64(b"Password:")
PLAIN_GOOD = b64(b"\x00alice\x00secret")

# (id, mechanism, [response or None for "no initial response", ...], [expected step results])
EXCHANGES = [
    ("plain_initial", "PLAIN", [PLAIN_GOOD], [Credentials("alice", "secret")]),
    ("plain_continued", "PLAIN", [None, PLAIN_GOOD], ["", Credentials("alice", "secret")]),
    (
        "plain_authzid",
        "PLAIN",
        [b64(b"bob\x00alice\x00secret")],
        [Credentials("alice", "secret", "bob")],
    ),
    (
        "login_continued",
        "LOGIN",
        [None, b64(b"alice"), b64(b"secret")],
        [USER_PROMPT, PASSWORD_PROMPT, Credentials("alice", "secret")],
    ),
    (
        "login_initial_user",
        "LOGIN",
        [b64(b"alice"), b64(b"secret")],
        [PASSWORD_PROMPT, Credentials("alice", "secret")],
    ),
    (
        "login_utf8",
        "LOGIN",
        [None, b64("j\u00f6rg".encode()), b64("p\u00e4ss w".encode())],
        [USER_PROMPT, PASSWORD_PROMPT, Credentials("j\u00f6rg", "p\u00e4ss w")],
    ),
    (
        "control_characters_in_a_password",
        "LOGIN",
        [b64(b"a"), b64(b"p\x1b\tw")],
        [PASSWORD_PROMPT, Credentials("a", "p\x1b\tw")],
    ),
    (
        "login_password_with_equals",
        "LOGIN",
        [b64(b"a"), b64(b"=x=")],
        [PASSWORD_PROMPT, Credentials("a", "=x=")],
    ),
]


@pytest.mark.parametrize(
    ("mechanism", "responses", "expected"),
    [c[1:] for c in EXCHANGES],
    ids=[c[0] for c in EXCHANGES],
)
def test_sasl_exchange(
    mechanism: str, responses: list[str | None], expected: list[str | Credentials]
) -> None:
    exchange = SaslExchange(mechanism)
    assert [exchange.step(response) for response in responses] == expected


EXCHANGE_FAILURES = [
    ("login_empty_user", "LOGIN", [None, "="]),
    ("login_empty_password", "LOGIN", [b64(b"alice"), "="]),
    ("login_not_base64", "LOGIN", [None, "alice"]),
    ("login_not_utf8", "LOGIN", [None, b64(b"al\xffice")]),
    ("login_nul", "LOGIN", [b64(b"al\x00ice")]),
    ("plain_bad", "PLAIN", [None, b64(b"alice\x00secret")]),
    ("missing_response", "LOGIN", [None, None]),
    ("plain_escape_in_user", "PLAIN", [b64(b"\x00ali\x1bce\x00pw")]),
    ("plain_newline_in_authzid", "PLAIN", [b64(b"bob\nx\x00alice\x00pw")]),
    ("plain_c1_in_user", "PLAIN", [b64("\x00a\u0085b\x00pw".encode())]),
    ("login_escape_in_user", "LOGIN", [None, b64(b"ali\x1bce")]),
    ("login_del_in_user", "LOGIN", [b64(b"ali\x7fce")]),
]


@pytest.mark.parametrize(
    ("mechanism", "responses"),
    [c[1:] for c in EXCHANGE_FAILURES],
    ids=[c[0] for c in EXCHANGE_FAILURES],
)
def test_sasl_exchange_rejects(mechanism: str, responses: list[str | None]) -> None:
    exchange = SaslExchange(mechanism)
    for response in responses[:-1]:
        exchange.step(response)
    with pytest.raises(ValueError):
        exchange.step(responses[-1])


def test_unknown_mechanism_is_refused() -> None:
    with pytest.raises(ValueError):
        SaslExchange("CRAM-MD5")
    assert MECHANISMS == ("PLAIN", "LOGIN")


def test_credentials_repr_hides_the_password() -> None:
    assert "secret" not in repr(Credentials("alice", "secret"))
