"""``tally.counted``: a key counted for a block, refused at its cap, dropped back at zero."""

from __future__ import annotations

from collections import Counter

import pytest

from pop3srv.tally import counted, counted_each


def test_a_key_is_counted_for_the_block_and_dropped_at_zero() -> None:
    counts: Counter[str] = Counter()
    with counted(counts, "a") as first, counted(counts, "a") as second:
        assert (first, second) == (True, True)
        assert counts == {"a": 2}
    assert "a" not in counts


def test_at_the_cap_nothing_is_counted_and_the_others_stay() -> None:
    counts: Counter[str] = Counter()
    with counted(counts, "a", limit=1) as first:
        with counted(counts, "a", limit=1) as refused:
            assert (first, refused) == (True, False)
            assert counts == {"a": 1}
        assert counts == {"a": 1}
    assert not counts


def test_an_error_in_the_block_still_uncounts() -> None:
    counts: Counter[str] = Counter()
    with pytest.raises(ValueError), counted(counts, "a"):
        raise ValueError
    assert not counts


def test_counted_each_counts_every_key_given_and_uncounts_on_error() -> None:
    counts: Counter[str] = Counter()
    with counted_each(counts, ("a", None, "b")), counted_each(counts, ("a", None)):
        assert counts == {"a": 2, "b": 1}
    assert not counts
    with pytest.raises(RuntimeError), counted_each(counts, ("a", "b")):
        raise RuntimeError
    assert not counts
