"""Things in progress counted per key (connections per address, login attempts per user and
address), each held for a ``with`` block, optionally capped: ``counted``. A key back at zero
is dropped, so a table holds only the keys in use and cannot grow with every address seen."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


@contextmanager
def counted(counts: Counter[K], key: K, limit: int | None = None) -> Iterator[bool]:
    """Counts ``key`` for the block and yields True; yields False, counting nothing, when
    ``limit`` of them are in progress already."""
    if limit is not None and counts[key] >= limit:
        yield False
        return
    counts[key] += 1
    try:
        yield True
    finally:
        counts[key] -= 1
        if not counts[key]:
            del counts[key]
