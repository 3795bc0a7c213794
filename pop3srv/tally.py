"""Things in progress counted per key (connections per address, login attempts per user and
address), each held for a ``with`` block, optionally capped: ``counted``. A key back at zero
is dropped, so a table holds only the keys in use and cannot grow with every address seen;
``counted_each`` counts a thing under several keys at once (an IPv6 client in its /64 and
its /48)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
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


@contextmanager
def counted_each(counts: Counter[K], keys: Iterable[K | None]) -> Iterator[None]:
    """Counts each of ``keys`` (None: skipped) for the block, uncapped."""
    with ExitStack() as held:
        for key in keys:
            if key is not None:
                held.enter_context(counted(counts, key))
        yield
