"""Maildrop snapshot semantics (RFC 1939): numbering, marks, RSET, the commit list."""

from __future__ import annotations

import random

import pytest

from pop3srv.maildrop import Maildrop, NoSuchMessage, in_order, unique_id
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


def test_a_listing_in_order_is_numbered_as_it_is_any_other_sorted() -> None:
    """Stores list in arrival order (one sort at login, not two); anything else is sorted."""
    rng = random.Random(3)
    infos = [
        MessageInfo(float(rng.choice([1, 2, 3])), rng.choice("abcdef") * rng.randint(1, 3), 10)
        for _ in range(300)
    ]
    ordered = sorted(infos)
    assert in_order(ordered) is ordered
    assert list(in_order(infos)) == ordered
    assert [e.info for e in Maildrop(infos).live()] == ordered
    assert [e.info for e in Maildrop(list(reversed(ordered))).live()] == ordered
    assert list(in_order([])) == []


def test_unique_id_keeps_exactly_the_keys_rfc_1939_allows() -> None:
    """Every character class at every length edge: kept iff 1-70 chars of 0x21-0x7E and not
    the digest's prefix."""
    chars = ["a", "~", "!", " ", "\x7f", "\x20", "\t", "\n", "\u00e9", "\udcff", "\x00"]
    for char in chars:
        for length in (1, 69, 70, 71):
            key = "k" * (length - 1) + char
            allowed = length <= 70 and all(0x21 <= ord(c) <= 0x7E for c in key)
            assert (unique_id(key) == key) is allowed, (char, length)
    assert unique_id("sha1-" + "0" * 40) != "sha1-" + "0" * 40


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
