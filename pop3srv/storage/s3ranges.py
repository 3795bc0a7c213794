"""Listing a big S3 mailbox in key ranges at once, instead of one page after another.

ListObjectsV2 hands out 1,000 keys a page and each continuation token comes with the page
before it: a 50,000-message mailbox is 50 round trips in a row at login (4 s at 20 ms per
request, ``bench.scale_s3``). Keys come back in UTF-8 byte order, and ``start-after`` lets a
listing begin anywhere, so once the first page says there is more, the rest of the key space
is cut into ranges listed side by side, each page by page, each stopping at its upper bound.
SES names its objects with 40 random base32hex characters (``[0-9a-v]``), so where the first
page's last key sits in that alphabet tells how many keys follow (1,000 keys up to ``"8"``:
about 3,000 after). Each range ends in a part-filled page, so there is one range per
``KEYS_PER_RANGE`` expected keys (at most ``MAX_RANGES``): a 10k mailbox is 2 ranges (11
requests instead of 10, 0.57-0.76x the time), 50k is 8 (of ~7 pages each). With 8
ranges for 10k (16 part-filled pages instead of 10), four logins at once took 1.3x as long as
one page after another on this machine, where SeaweedFS shares the two cores.

Correct whatever the keys look like: range *i* keeps exactly the keys ``k`` with
``lo_i < k <= hi_i`` (the last range has no upper bound), and the ranges tile everything after
the first page's last key, so every key is listed once. Names outside the alphabet are listed
in one range (as before: page after page); a server that ignores ``start-after`` costs more
requests, never a key lost or counted twice. The pool's ``listing_ranges`` limiter bounds the
range requests in flight across all logins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from pop3srv.storage.s3list import Listed, Page, utf8_key

#: how SES names objects (base32hex, lower case)
ALPHABET = "0123456789abcdefghijklmnopqrstuv"
#: expected keys per range (each range ends in a part-filled page) and the most ranges
KEYS_PER_RANGE = 4000
MAX_RANGES = 8

#: fetch(start_after, continuation token) -> the next page
Fetch = Callable[[str, str | None], Awaitable[Page]]


def position(name: str) -> float | None:
    """Where a name sits among base32hex names, 0 <= p < 1, by its first two characters;
    ``None`` for a name outside that alphabet."""
    if len(name) < 2 or name[0] not in ALPHABET or name[1] not in ALPHABET:
        return None
    return (ALPHABET.index(name[0]) * 32 + ALPHABET.index(name[1])) / 1024


def name_at(where: float) -> str:
    """The two-character base32hex name at ``where`` (0 <= where < 1)."""
    step = min(int(where * 1024), 1023)
    return ALPHABET[step // 32] + ALPHABET[step % 32]


def ranges(
    prefix: str, after: str, listed: int, per_range: int = KEYS_PER_RANGE
) -> list[tuple[str, str | None]]:
    """``(lo, hi)`` pairs tiling every key after ``after`` (``lo < key <= hi``), one per
    ``per_range`` keys expected after it, judged from the ``listed`` keys up to it."""
    where = position(after[len(prefix) :]) if after.startswith(prefix) else None
    if where is None:
        return [(after, None)]
    where = max(where, 1 / 1024)
    expected = listed * (1 - where) / where  # if the names are spread evenly, as SES's
    count = max(1, min(MAX_RANGES, int(expected // per_range)))
    points = {prefix + name_at(where + (1 - where) * i / count) for i in range(1, count)}
    cuts = sorted((p for p in points if utf8_key(p) > utf8_key(after)), key=utf8_key)
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
        if page.next_token is None or (
            high is not None and page.last is not None and utf8_key(page.last) > high
        ):
            return found  # also a page of sub-folders only, past the upper bound
        token = page.next_token


async def list_rest(
    fetch: Fetch,
    prefix: str,
    after: str,
    listed: int,
    *,
    limiter: trio.CapacityLimiter | None = None,
    per_range: int = KEYS_PER_RANGE,
) -> list[Listed]:
    """Every object after the key ``after`` (the last of the first ``listed``), the ranges
    at once, at most ``limiter``'s tokens of requests in flight (shared by every login)."""
    spans = ranges(prefix, after, listed, per_range)
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
