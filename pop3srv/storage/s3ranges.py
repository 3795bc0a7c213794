"""Listing a big S3 mailbox in key ranges at once, instead of one page after another.

ListObjectsV2 hands out 1,000 keys a page and each continuation token comes with the page
before it: a 50,000-message mailbox is 50 round trips in a row at login (4 s at 20 ms per
request, ``bench.scale_s3``). Keys come back in UTF-8 byte order, and ``start-after`` lets a
listing begin anywhere, so once the first page says there is more, the rest of the key space
is cut at fixed ``BOUNDARIES`` into ranges listed side by side, each page by page, each
stopping at its upper bound. SES names its objects with 40 random base32hex characters
(``[0-9a-v]``): the boundaries cut that alphabet into 8 equal ranges.

Correct whatever the keys look like: range *i* keeps exactly the keys ``k`` with
``lo_i < k <= hi_i`` (the last range has no upper bound), and the ranges tile everything after
the first page's last key, so every key is listed once. Keys the boundaries do not spread
(another naming scheme, a server that ignores ``start-after``) cost at most one wasted request
per range, or a longer listing, never a key lost or counted twice. The pool's
``listing_ranges`` limiter bounds the range requests in flight across all logins: one big
login gets all 8 ranges at once, several at once share them (on this machine, 4 logins of 10k
each with 32 requests in flight took 1.3x as long as one page at a time each).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from pop3srv.storage.s3list import Listed, Page

#: where the key space after the mailbox prefix is cut: 8 equal ranges of SES's [0-9a-v]
BOUNDARIES = ("4", "8", "c", "g", "k", "o", "s")

#: fetch(start_after, continuation token) -> the next page
Fetch = Callable[[str, str | None], Awaitable[Page]]


def utf8_key(key: str) -> bytes:
    """How S3 orders keys (code points order the same, but keys may carry surrogates)."""
    return key.encode("utf-8", "surrogateescape")


def ranges(prefix: str, after: str) -> list[tuple[str, str | None]]:
    """``(lo, hi)`` pairs tiling every key after ``after``: ``lo < key <= hi``."""
    cuts = [prefix + b for b in BOUNDARIES if utf8_key(prefix + b) > utf8_key(after)]
    lows = [after, *cuts]
    highs: list[str | None] = [*cuts, None]
    return list(zip(lows, highs, strict=True))


async def list_range(
    fetch: Fetch, lo: str, hi: str | None, limiter: trio.CapacityLimiter | None = None
) -> list[Listed]:
    """The objects with ``lo < key <= hi``, page by page from ``start-after=lo``, each
    request under ``limiter`` (the process's listing requests in flight)."""
    low, high = utf8_key(lo), None if hi is None else utf8_key(hi)
    found: list[Listed] = []
    token: str | None = None
    while True:
        if limiter is None:
            page = await fetch(lo, token)
        else:
            async with limiter:
                page = await fetch(lo, token)
        for item in page.objects:
            key = utf8_key(item.key)
            if high is not None and key > high:
                return found  # the pages are ordered: the rest belongs to later ranges
            if key > low:
                found.append(item)
        if page.next_token is None:
            return found
        token = page.next_token


async def list_rest(
    fetch: Fetch, prefix: str, after: str, limiter: trio.CapacityLimiter | None = None
) -> list[Listed]:
    """Every object after the key ``after`` (the first page's last), the ranges at once,
    at most ``limiter``'s tokens of requests in flight (shared by every login)."""
    spans = ranges(prefix, after)
    results: list[list[Listed]] = [[] for _ in spans]
    errors: list[Exception] = []

    async def one(index: int, lo: str, hi: str | None, cancel: trio.CancelScope) -> None:
        try:
            results[index] = await list_range(fetch, lo, hi, limiter)
        except Exception as exc:  # the first failure is the listing's (a StoreError)
            errors.append(exc)
            cancel.cancel()

    async with trio.open_nursery() as nursery:
        for index, (lo, hi) in enumerate(spans):
            nursery.start_soon(one, index, lo, hi, nursery.cancel_scope)
    if errors:
        raise errors[0]
    return [item for found in results for item in found]
