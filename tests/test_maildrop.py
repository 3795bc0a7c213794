"""Maildrop snapshot semantics (RFC 1939): numbering, marks, RSET, the commit list."""

from __future__ import annotations

import pytest

from pop3srv.maildrop import Maildrop, NoSuchMessage, unique_id
from pop3srv.storage.base import MessageInfo


def _drop() -> Maildrop:
    return Maildrop(
        [
            MessageInfo(arrived=30.0, key="c", size=300),
            MessageInfo(arrived=10.0, key="b", size=100),
            MessageInfo(arrived=10.0, key="a", size=50),
        ]
    )


def test_numbering_is_by_arrival_then_key() -> None:
    assert [e.info.key for e in _drop().live()] == ["a", "b", "c"]


def test_stat_counts_undeleted_messages_and_octets() -> None:
    drop = _drop()
    assert drop.stat() == (3, 450)
    drop.mark_deleted(2)
    assert drop.stat() == (2, 350)


@pytest.mark.parametrize("number", [0, -1, 4, 10**9])
def test_get_rejects_numbers_outside_the_snapshot(number: int) -> None:
    with pytest.raises(NoSuchMessage, match="no such message"):
        _drop().get(number)


def test_deleted_message_is_refused_and_hidden_and_numbers_are_stable() -> None:
    drop = _drop()
    drop.mark_deleted(1)
    with pytest.raises(NoSuchMessage, match="already deleted"):
        drop.get(1)
    with pytest.raises(NoSuchMessage):
        drop.mark_deleted(1)
    assert [e.number for e in drop.live()] == [2, 3]
    assert drop.get(3).info.key == "c"


def test_rset_unmarks_everything() -> None:
    drop = _drop()
    drop.mark_deleted(1)
    drop.mark_deleted(3)
    drop.reset()
    assert drop.stat() == (3, 450)
    assert drop.marked_keys() == []


def test_marked_keys_is_the_commit_list_in_number_order() -> None:
    drop = _drop()
    drop.mark_deleted(3)
    drop.mark_deleted(1)
    assert drop.marked_keys() == ["a", "c"]
    assert drop.marked_count == 2


@pytest.mark.parametrize(
    ("key", "kept"),
    [
        ("0000abcd", True),
        ("x" * 70, True),
        ("x" * 71, False),
        ("has space", False),
        ("caf\u00e9", False),
        ("", False),
    ],
)
def test_unique_id_keeps_rfc_1939_keys_and_digests_others(key: str, kept: bool) -> None:
    uid = unique_id(key)
    assert (uid == key) is kept
    assert 0 < len(uid) <= 70
    assert all(0x21 <= ord(c) <= 0x7E for c in uid)
