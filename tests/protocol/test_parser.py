"""parse_command syntax: keywords, argument counts and formats, encodings, the line limit."""

from __future__ import annotations

import pytest

from pop3srv.protocol.events import (
    Auth,
    AuthCancel,
    AuthResponse,
    BadCommand,
    Capa,
    Command,
    Dele,
    Err,
    List,
    Noop,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
)
from pop3srv.protocol.parser import (
    MAX_TOP_LINES,
    keyword_of,
    parse_command,
    parse_sasl_response,
)
from pop3srv.protocol.state import State


def bad(text: str) -> BadCommand:
    return BadCommand(Err(text))


def in_transaction(line: bytes) -> Command:
    return parse_command(line, state=State.TRANSACTION)


def in_authorization(line: bytes, *, have_user: bool = True) -> Command:
    return parse_command(line, state=State.AUTHORIZATION, have_user=have_user, stls_available=True)


TRANSACTION_CASES = [
    # keywords are case-insensitive
    ("stat_lower", b"stat", Stat()),
    ("stat_mixed", b"StAt", Stat()),
    ("retr_lower", b"retr 1", Retr(1)),
    ("top_mixed", b"Top 1 2", Top(1, 2)),
    ("uidl_lower_no_arg", b"uidl", Uidl()),
    # commands without arguments
    ("noop", b"NOOP", Noop()),
    ("rset", b"RSET", Rset()),
    ("quit", b"QUIT", Quit()),
    ("capa", b"CAPA", Capa()),
    ("stat_trailing_spaces", b"STAT   ", Stat()),
    ("stat_leading_spaces", b"  STAT", Stat()),
    ("stat_with_argument", b"STAT 1", bad("STAT takes no arguments")),
    ("noop_with_argument", b"NOOP x", bad("NOOP takes no arguments")),
    ("rset_with_argument", b"RSET 1", bad("RSET takes no arguments")),
    ("quit_with_argument", b"QUIT now", bad("QUIT takes no arguments")),
    ("capa_with_argument", b"CAPA x", bad("CAPA takes no arguments")),
    # LIST / UIDL [msg]
    ("list_all", b"LIST", List()),
    ("list_one", b"LIST 3", List(3)),
    ("list_zero_is_syntax_ok", b"LIST 0", List(0)),
    ("list_repeated_spaces", b"LIST   3  ", List(3)),
    ("list_two_args", b"LIST 1 2", bad("LIST: too many arguments")),
    ("list_not_numeric", b"LIST one", bad("invalid message number")),
    ("list_negative", b"LIST -1", bad("invalid message number")),
    ("uidl_one", b"UIDL 7", Uidl(7)),
    ("uidl_two_args", b"UIDL 1 2", bad("UIDL: too many arguments")),
    ("uidl_not_numeric", b"UIDL x", bad("invalid message number")),
    # RETR / DELE msg
    ("retr", b"RETR 1", Retr(1)),
    ("retr_leading_zeros", b"RETR 0007", Retr(7)),
    ("retr_zero", b"RETR 0", Retr(0)),
    ("retr_ten_digits", b"RETR 9999999999", Retr(9999999999)),
    ("retr_eleven_digits", b"RETR 12345678901", bad("invalid message number")),
    ("retr_huge", b"RETR " + b"9" * 200, bad("invalid message number")),
    ("retr_missing", b"RETR", bad("RETR needs a message number")),
    ("retr_missing_trailing_space", b"RETR ", bad("RETR needs a message number")),
    ("retr_extra", b"RETR 1 2", bad("RETR: too many arguments")),
    ("retr_negative", b"RETR -1", bad("invalid message number")),
    ("retr_plus_sign", b"RETR +1", bad("invalid message number")),
    ("retr_decimal", b"RETR 1.0", bad("invalid message number")),
    ("retr_hex", b"RETR 0x1", bad("invalid message number")),
    ("retr_word", b"RETR one", bad("invalid message number")),
    ("retr_non_ascii_digit", "RETR \u0661".encode(), bad("command must be printable ASCII")),
    ("dele", b"DELE 2", Dele(2)),
    ("dele_missing", b"DELE", bad("DELE needs a message number")),
    ("dele_extra", b"DELE 1 x", bad("DELE: too many arguments")),
    ("dele_negative", b"DELE -5", bad("invalid message number")),
    # TOP msg n
    ("top", b"TOP 1 10", Top(1, 10)),
    ("top_zero_lines", b"TOP 1 0", Top(1, 0)),
    ("top_spaces", b"TOP  1   0 ", Top(1, 0)),
    ("top_missing_both", b"TOP", bad("TOP needs a message number and a line count")),
    ("top_missing_lines", b"TOP 1", bad("TOP needs a message number and a line count")),
    ("top_extra", b"TOP 1 2 3", bad("TOP: too many arguments")),
    ("top_bad_msg", b"TOP x 2", bad("invalid message number")),
    ("top_negative_lines", b"TOP 1 -1", bad("invalid line count")),
    ("top_eleven_digit_lines", b"TOP 1 99999999999", Top(1, 99999999999)),
    ("top_huge_lines", b"TOP 1 " + b"9" * 240, Top(1, MAX_TOP_LINES)),
    ("top_leading_zeros", b"TOP 1 " + b"0" * 40 + b"7", Top(1, 7)),
    ("top_hex_lines", b"TOP 1 0x10", bad("invalid line count")),
    ("top_non_ascii_digit_lines", "TOP 1 \u0663".encode(), bad("command must be printable ASCII")),
    ("top_word_lines", b"TOP 1 all", bad("invalid line count")),
    # unknown, empty, garbage
    ("unknown_keyword", b"HELO x", bad("unknown command")),
    ("five_letters", b"STATS", bad("unknown command")),
    ("two_letters", b"ST", bad("unknown command")),
    ("apop_not_supported", b"APOP alice 0123456789abcdef", bad("unknown command")),
    ("digits", b"1234", bad("unknown command")),
    ("punctuation_in_keyword", b"ST@T", bad("unknown command")),
    ("tab_after_keyword", b"STAT\t", bad("unknown command")),
    ("eight_bit_keyword", b"\xffSTAT", bad("unknown command")),
    ("empty_line", b"", bad("empty command")),
    ("only_spaces", b"   ", bad("empty command")),
    ("nul_in_argument", b"RETR 1\x00", bad("command must be printable ASCII")),
    ("tab_in_arguments", b"TOP 1\t2", bad("command must be printable ASCII")),
    ("cr_in_arguments", b"LIST 1\r2", bad("command must be printable ASCII")),
]


@pytest.mark.parametrize(
    ("line", "expected"), [c[1:] for c in TRANSACTION_CASES], ids=[c[0] for c in TRANSACTION_CASES]
)
def test_transaction_command_syntax(line: bytes, expected: Command) -> None:
    assert in_transaction(line) == expected


AUTHORIZATION_CASES = [
    ("user", b"USER alice", User("alice")),
    ("user_lower", b"user alice", User("alice")),
    ("user_keeps_case_of_name", b"USER Alice@Example.COM", User("Alice@Example.COM")),
    ("user_trailing_spaces", b"USER alice  ", User("alice")),
    ("user_missing", b"USER", bad("USER needs a user name")),
    # USER: the rest of the line, spaces inside kept (an address with a space in its local
    # part; every USER/PASS client sends it so), spaces around it dropped
    ("user_with_a_space", b"USER jane doe@example.com", User("jane doe@example.com")),
    ("user_inner_spaces_kept", b"USER  a  b ", User("a  b")),
    ("user_only_spaces", b"USER   ", bad("USER needs a user name")),
    ("user_utf8", "USER jos\u00e9".encode(), User("jos\u00e9")),  # without UTF8 too
    ("user_control_char", b"USER a\x01b", bad("USER: control characters in the name")),
    # PASS: the rest of the line after one space, verbatim
    ("pass", b"PASS secret", Pass("secret")),
    ("pass_lower", b"pass secret", Pass("secret")),
    ("pass_with_spaces", b"PASS my secret phrase", Pass("my secret phrase")),
    ("pass_leading_space_kept", b"PASS  secret", Pass(" secret")),
    ("pass_trailing_spaces_kept", b"PASS secret  ", Pass("secret  ")),
    ("pass_only_a_space", b"PASS  ", Pass(" ")),
    ("pass_utf8", "PASS p\u00e4ss w\u00f6rd".encode(), Pass("p\u00e4ss w\u00f6rd")),
    ("pass_invalid_utf8", b"PASS \xff\xfe", Pass("\udcff\udcfe")),
    ("pass_control_chars", b"PASS a\x00b\tc", Pass("a\x00b\tc")),
    ("pass_looks_numeric", b"PASS 1 2 3", Pass("1 2 3")),
    ("pass_8_kib", b"PASS " + b"p" * 8192, Pass("p" * 8192)),
    ("pass_missing", b"PASS", bad("PASS needs a password")),
    ("pass_missing_trailing_space", b"PASS ", bad("PASS needs a password")),
    # AUTH [mechanism [initial-response]] (RFC 5034)
    ("auth_list", b"AUTH", Auth()),
    ("auth_mechanism", b"AUTH PLAIN", Auth("PLAIN")),
    ("auth_mechanism_upper_cased", b"auth plain", Auth("PLAIN")),
    (
        "auth_initial_response",
        b"AUTH PLAIN AGFsaWNlAHNlY3JldA==",
        Auth("PLAIN", "AGFsaWNlAHNlY3JldA=="),
    ),
    ("auth_empty_initial_response", b"AUTH PLAIN =", Auth("PLAIN", "=")),
    ("auth_spaces", b"AUTH  PLAIN   abc ", Auth("PLAIN", "abc")),
    ("auth_other_mechanism", b"AUTH X-OAUTH2_V1", Auth("X-OAUTH2_V1")),
    ("auth_long_initial_response", b"AUTH PLAIN " + b"A" * 12000, Auth("PLAIN", "A" * 12000)),
    ("auth_too_many", b"AUTH PLAIN a b", bad("AUTH: too many arguments")),
    ("auth_bad_mechanism", b"AUTH PL@IN", bad("invalid SASL mechanism name")),
    ("auth_mechanism_too_long", b"AUTH " + b"A" * 21, bad("invalid SASL mechanism name")),
    ("auth_mechanism_8bit", b"AUTH PL\xc3\x84IN", bad("invalid SASL mechanism name")),
    (
        "auth_mechanism_upper_cases_to_ascii",
        "AUTH plai\u00df".encode(),
        bad("invalid SASL mechanism name"),
    ),
    # STLS (RFC 2595)
    ("stls", b"STLS", Stls()),
    ("stls_lower", b"stls", Stls()),
    ("stls_with_argument", b"STLS now", bad("STLS takes no arguments")),
    ("quit", b"QUIT", Quit()),
    ("capa", b"capa", Capa()),
]


@pytest.mark.parametrize(
    ("line", "expected"),
    [c[1:] for c in AUTHORIZATION_CASES],
    ids=[c[0] for c in AUTHORIZATION_CASES],
)
def test_authorization_command_syntax(line: bytes, expected: Command) -> None:
    assert in_authorization(line) == expected


@pytest.mark.parametrize("line", [b"PASS secret", b"PASS", b"pass x y"])
def test_pass_without_accepted_user_is_refused(line: bytes) -> None:
    assert in_authorization(line, have_user=False) == bad("PASS must follow a successful USER")


@pytest.mark.parametrize(
    ("stls_available", "is_tls", "expected"),
    [
        (True, False, Stls()),
        (False, False, bad("STLS not available")),
        (True, True, bad("already using TLS")),
        (False, True, bad("already using TLS")),
    ],
)
def test_stls_needs_availability_and_plaintext(
    stls_available: bool, is_tls: bool, expected: Command
) -> None:
    got = parse_command(
        b"STLS", state=State.AUTHORIZATION, stls_available=stls_available, is_tls=is_tls
    )
    assert got == expected


SECRET_LINES = [
    b"PASS s3cr3t-Pw",
    b"PASS s3cr3t-Pw with spaces",
    b"pass s3cr3t-Pw\x00",
    b"PASS s3cr3t-Pw" + b"x" * 300,
    b"AUTH PLAIN s3cr3t-Pw extra",
    b"AUTH s3cr3t-Pw!",
    b"USER s3cr3t-Pw s3cr3t-Pw",
    b"RETR s3cr3t-Pw",
]


@pytest.mark.parametrize("line", SECRET_LINES)
@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("have_user", [True, False])
def test_error_text_never_echoes_the_arguments(line: bytes, state: State, have_user: bool) -> None:
    got = parse_command(line, state=state, have_user=have_user, max_line=255)
    if isinstance(got, BadCommand):
        assert "s3cr3t" not in got.reply.text
    if isinstance(got, Pass | Auth):
        assert "s3cr3t" not in repr(got)


@pytest.mark.parametrize(
    ("line", "state", "expected"),
    [
        (b"NOOP " + b"x" * 250, State.TRANSACTION, bad("NOOP takes no arguments")),
        (b"RETR " + b"1" * 251, State.TRANSACTION, BadCommand(Err("line too long"), True)),
        (b"STAT" + b" " * 252, State.TRANSACTION, BadCommand(Err("line too long"), True)),
        (b"x" * 256, State.TRANSACTION, BadCommand(Err("line too long"), True)),
        (b"USER " + b"a" * 251, State.AUTHORIZATION, BadCommand(Err("line too long"), True)),
        (b"PASS " + b"p" * 8192, State.AUTHORIZATION, Pass("p" * 8192)),
        (b"pass " + b"p" * 300, State.AUTHORIZATION, Pass("p" * 300)),
        (b"AUTH PLAIN " + b"A" * 400, State.AUTHORIZATION, Auth("PLAIN", "A" * 400)),
        # long PASS/AUTH are still subject to the state rules
        (b"PASS " + b"p" * 300, State.TRANSACTION, bad("PASS not allowed after login")),
        (b"AUTH PLAIN " + b"A" * 400, State.TRANSACTION, bad("AUTH not allowed after login")),
    ],
    ids=[
        "255_octets_ok",
        "256_octets_retr",
        "256_octets_trailing_spaces",
        "256_octets_garbage",
        "256_octets_user",
        "pass_8_kib",
        "pass_lower_300",
        "auth_400",
        "long_pass_after_login",
        "long_auth_after_login",
    ],
)
def test_line_limit_applies_except_to_pass_and_auth(
    line: bytes, state: State, expected: Command
) -> None:
    assert parse_command(line, state=state, have_user=True, max_line=255) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"STAT", "STAT"),
        (b"  top 1 2", "TOP"),
        (b"Pass x", "PASS"),
        (b"ST", None),
        (b"STATS", None),
        (b"", None),
        (b"\xe9tat", None),
        (b"utf8", "UTF8"),
        (b"1234", "1234"),
    ],
)
def test_keyword_of(line: bytes, expected: str | None) -> None:
    assert keyword_of(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"*", AuthCancel()),
        (b" * ", AuthCancel()),
        (b"AGFsaWNlAHNlY3JldA==", AuthResponse("AGFsaWNlAHNlY3JldA==")),
        (b"", AuthResponse("")),
        (b"**", AuthResponse("**")),
        (b"=", AuthResponse("=")),
        (b"\xff", AuthResponse("\udcff")),
    ],
    ids=["star", "star_spaces", "base64", "empty", "two_stars", "equals", "eight_bit"],
)
def test_sasl_response_lines(line: bytes, expected: Command) -> None:
    assert parse_sasl_response(line) == expected
