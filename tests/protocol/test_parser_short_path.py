"""parse_command's short path (the shapes a download repeats) gives what the full path gives,
for every state, every known keyword in any case, with and without numbers, and near misses."""

from __future__ import annotations

import itertools
import random

import pytest

from pop3srv.protocol.events import BadCommand, Dele, List, Retr, Uidl
from pop3srv.protocol.parser import full_parse, parse_command
from pop3srv.protocol.state import KNOWN_COMMANDS, State

KEYWORDS = [*sorted(KNOWN_COMMANDS), "RETX", "XXXX", "TOPS", "LIS", "UTF9"]
ARGUMENTS = [
    b"",
    b" 1",
    b" 0",
    b" 0012",
    b" 1234567890",
    b" 12345678901",
    b" 99999999999",
    b" -1",
    b" +1",
    b" 1 2",
    b" 1 ",
    b"  1",
    b" ",
    b" x",
    b" \xd9\xa3",  # an Arabic-Indic digit: not a message number
    b"\t1",
]
OPTIONS = [
    {"have_user": False, "stls_available": False, "is_tls": False},
    {"have_user": True, "stls_available": True, "is_tls": False},
    {"have_user": True, "stls_available": True, "is_tls": True},
]


def _lines() -> list[bytes]:
    lines = []
    for keyword, argument in itertools.product(KEYWORDS, ARGUMENTS):
        for spelled in (keyword, keyword.lower(), keyword.capitalize()):
            lines.append(spelled.encode() + argument)
    return lines


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("max_line", [None, 4, 6, 255])
def test_short_path_equals_full_path(state: State, max_line: int | None) -> None:
    for line, options in itertools.product(_lines(), OPTIONS):
        got = parse_command(line, state=state, max_line=max_line, **options)
        want = full_parse(line, state=state, max_line=max_line, **options)
        assert got == want, (line, state, options)


def test_short_path_equals_full_path_on_random_lines() -> None:
    rng = random.Random(2449)
    alphabet = b"RETRDELISTUIDLretrdeleuidl 0123456789x\t."
    for _ in range(20_000):
        line = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        for state in (State.AUTHORIZATION, State.TRANSACTION):
            got = parse_command(line, state=state, max_line=255)
            assert got == full_parse(
                line,
                state=state,
                have_user=False,
                stls_available=False,
                is_tls=False,
                max_line=255,
            ), line


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"RETR 7", Retr(7)),
        (b"dele 0012", Dele(12)),
        (b"LIST 3", List(3)),
        (b"UIDL", Uidl(None)),
        (b"RETR 1234567890", Retr(1234567890)),
    ],
)
def test_download_commands(line: bytes, event: object) -> None:
    assert parse_command(line, state=State.TRANSACTION, max_line=255) == event


def test_a_number_too_long_is_refused_as_before() -> None:
    got = parse_command(b"RETR 12345678901", state=State.TRANSACTION, max_line=255)
    assert isinstance(got, BadCommand)
    assert got.reply.text == "invalid message number"
