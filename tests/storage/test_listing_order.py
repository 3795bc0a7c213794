"""``listing_order`` (the sort key stores and maildrops use) is ``MessageInfo``'s own order."""

from __future__ import annotations

import random

from pop3srv.storage.base import MessageInfo, listing_order


def test_the_sort_key_orders_as_the_dataclass_does() -> None:
    rng = random.Random(7)
    infos = [
        MessageInfo(
            float(rng.choice([1, 2, 3])),  # ties on arrival (whole-second LastModified)
            rng.choice(["a", "b", "c", "é", "A"]),  # and on key
            rng.choice([10, 20]),
            etag=rng.choice(["", '"x"', '"y"']),  # not part of the order
        )
        for _ in range(500)
    ]
    assert sorted(infos, key=listing_order) == sorted(infos)
    assert [listing_order(i) for i in sorted(infos, key=listing_order)] == [
        listing_order(i) for i in sorted(infos)
    ]
