"""The TRANSACTION commands answered from the maildrop snapshot alone: a table of command ->
reply on one snapshot, marks changed by DELE/RSET, and numbers that name no live message."""

from __future__ import annotations

import hashlib

import pytest

from pop3srv.maildrop import Maildrop, NoSuchMessage
from pop3srv.protocol import events as ev
from pop3srv.storage.base import MessageInfo
from pop3srv.transaction import answer


def _drop() -> Maildrop:
    return Maildrop(
        [
            MessageInfo(arrived=10.0, key="a", size=50),
            MessageInfo(arrived=20.0, key="b", size=100),
            MessageInfo(arrived=30.0, key="c d", size=300),  # not a valid UIDL: digested
        ]
    )


UID_C = "sha1-" + hashlib.sha1(b"c d").hexdigest()


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        (ev.Stat(), ev.Ok("3 450")),
        (
            ev.List(None),
            ev.MultiLine("3 messages (450 octets) scan listing", ["1 50", "2 100", "3 300"]),
        ),
        (ev.List(2), ev.Ok("2 100")),
        (
            ev.Uidl(None),
            ev.MultiLine("3 messages (450 octets) unique-id listing", ["1 a", "2 b", f"3 {UID_C}"]),
        ),
        (ev.Uidl(3), ev.Ok(f"3 {UID_C}")),
        (ev.Noop(), ev.Ok()),
        (ev.Dele(1), ev.Ok("message 1 deleted")),
        (ev.Rset(), ev.Ok("maildrop has 3 messages (450 octets)")),
    ],
)
def test_replies(command: ev.Command, reply: ev.Reply) -> None:
    assert answer(_drop(), command) == reply


def test_dele_marks_and_rset_unmarks() -> None:
    drop = _drop()
    answer(drop, ev.Dele(2))
    assert answer(drop, ev.Stat()) == ev.Ok("2 350")
    assert answer(drop, ev.List(None)) == ev.MultiLine(
        "2 messages (350 octets) scan listing", ["1 50", "3 300"]
    )
    assert drop.marked_keys() == ["b"]
    assert answer(drop, ev.Rset()) == ev.Ok("maildrop has 3 messages (450 octets)")
    assert drop.marked_keys() == []


@pytest.mark.parametrize(
    ("command", "text"),
    [
        (ev.List(4), "no such message"),
        (ev.Uidl(0), "no such message"),
        (ev.Dele(1), "message 1 already deleted"),
        (ev.List(1), "message 1 already deleted"),
    ],
)
def test_a_number_naming_no_live_message(command: ev.Command, text: str) -> None:
    drop = _drop()
    drop.mark_deleted(1)
    with pytest.raises(NoSuchMessage, match=text):
        answer(drop, command)
    assert drop.marked_keys() == ["a"]  # nothing changed


@pytest.mark.parametrize("command", [ev.Retr(1), ev.Top(1, 0), ev.Quit(), ev.Capa()])
def test_commands_that_need_more_than_the_snapshot_are_not_answered(command: ev.Command) -> None:
    with pytest.raises(ValueError, match="not answered from the maildrop"):
        answer(_drop(), command)
