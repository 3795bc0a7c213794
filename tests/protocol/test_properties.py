"""Property-based tests of the sans-I/O core (hypothesis): arbitrary bytes in arbitrary splits
never raise, and how input is split never changes what is parsed or answered."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.protocol.support import new_connection, serve

KEYWORDS = [
    "USER alice",
    "PASS secret",
    "PASS wrong",
    "STAT",
    "LIST",
    "LIST 1",
    "LIST 9",
    "RETR 1",
    "RETR 2",
    "RETR x",
    "TOP 1 0",
    "TOP 2 1",
    "TOP 1",
    "DELE 1",
    "DELE 1",
    "RSET",
    "NOOP",
    "UIDL",
    "UIDL 2",
    "CAPA",
    "AUTH",
    "AUTH PLAIN",
    "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    "*",
    "AGFsaWNlAHNlY3JldA==",
    "STLS",
    "XYZZY",
    "",
    " ",
    "retr 1",
    "QUIT",
]

lines = st.lists(
    st.one_of(
        st.sampled_from(KEYWORDS),
        st.text(min_size=0, max_size=40).filter(lambda t: "\r" not in t and "\n" not in t),
    ),
    max_size=30,
)
endings = st.sampled_from([b"\r\n", b"\n"])


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_random_bytes_in_random_chunks_never_raise(data: bytes, cuts: list[int]) -> None:
    events, out = serve(new_connection(), _split(data, cuts))
    assert events, "at least ConnectionClosed"
    assert out.endswith(b"\r\n") or out == b""


@settings(max_examples=300, deadline=None)
@given(script=lines, ending=endings, cuts=st.lists(st.integers(min_value=0), max_size=25))
def test_splitting_never_changes_the_conversation(
    script: list[str], ending: bytes, cuts: list[int]
) -> None:
    # STLS is left out (stls_available=False): it discards what was pipelined after it, on
    # purpose, so there the split does matter (see test_connection_auth).
    data = ending.join(line.encode("utf-8", "surrogateescape") for line in script) + ending
    whole_events, whole_out = serve(new_connection(stls_available=False), [data])
    split_events, split_out = serve(new_connection(stls_available=False), _split(data, cuts))
    assert split_events == whole_events
    assert split_out == whole_out


@settings(max_examples=200, deadline=None)
@given(script=lines)
def test_every_command_gets_exactly_one_status_reply(script: list[str]) -> None:
    data = b"".join(line.encode("utf-8", "surrogateescape") + b"\r\n" for line in script)
    events, out = serve(new_connection(), [data])
    commands = len(events) - 1  # the last event is ConnectionClosed
    status = [line for line in out.split(b"\r\n") if line[:3] in (b"+OK", b"-ER", b"+ ", b"+")]
    assert len(status) >= commands
