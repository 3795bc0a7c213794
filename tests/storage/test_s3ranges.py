"""Listing in key ranges (pop3srv.storage.s3ranges), offline against an in-memory pager that
behaves as ListObjectsV2 (sorted by UTF-8 bytes, start-after, pages of PAGE keys): every key
after the first page is listed exactly once whatever the names look like, also by a server
that ignores ``start-after``; a failing range fails the listing with its own error."""

from __future__ import annotations

import random
from functools import partial

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from pop3srv.storage.base import StoreUnavailable
from pop3srv.storage.s3list import Listed, Page, utf8_key
from pop3srv.storage.s3ranges import (
    ALPHABET,
    MAX_RANGES,
    list_range,
    list_rest,
    name_at,
    position,
    ranges,
)

PAGE = 7


class Pager:
    """ListObjectsV2 over ``keys``; ``honour_start_after=False`` is a server that ignores it."""

    def __init__(self, keys: list[str], *, honour_start_after: bool = True) -> None:
        self.keys = sorted(keys, key=utf8_key)
        self.honour = honour_start_after
        self.requests = 0

    async def __call__(self, start_after: str, token: str | None) -> Page:
        self.requests += 1
        if token is not None:
            start = int(token)
        elif self.honour:
            start = sum(1 for key in self.keys if utf8_key(key) <= utf8_key(start_after))
        else:
            start = 0
        chunk = self.keys[start : start + PAGE]
        more = start + PAGE < len(self.keys)
        return Page([Listed(key, 0.0, 1) for key in chunk], str(start + PAGE) if more else None)


def _ses_names(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["in/" + "".join(rng.choices(ALPHABET, k=40)) for _ in range(count)]


ODD = ["in/" + name for name in ("A", "Z~", "~x", "ü", "4", "8", "c", "s", "sz", "zzz", "0")]


@pytest.mark.parametrize("honour", [True, False])
@pytest.mark.parametrize(
    "keys",
    [_ses_names(200, 1), ODD, [f"in/m{n:05d}" for n in range(60)], _ses_names(3, 2)],
    ids=["ses", "odd", "one-letter", "few"],
)
async def test_every_key_after_the_first_page_is_listed_once(keys: list[str], honour: bool) -> None:
    pager = Pager(keys, honour_start_after=honour)
    first = await pager("", None)
    after = first.objects[-1].key
    rest = await list_rest(pager, "in/", after, len(first.objects), per_range=2 * PAGE)
    expected = [key for key in pager.keys if utf8_key(key) > utf8_key(after)]
    assert sorted((item.key for item in rest), key=utf8_key) == expected
    assert len(rest) == len({item.key for item in rest})


def test_the_ranges_tile_the_key_space_after_the_first_page() -> None:
    spans = ranges("in/", "in/80zz", 1000, per_range=1000)  # ~3,000 keys expected after
    assert spans[0][0] == "in/80zz" and spans[-1][1] is None
    assert [lo for lo, _ in spans[1:]] == [hi for _, hi in spans[:-1]]
    assert len(spans) == 3
    assert [hi for _, hi in spans[:-1]] == ["in/g0", "in/o0"]


def test_as_many_ranges_as_expected_keys_call_for() -> None:
    assert len(ranges("in/", "in/8", 1000)) == 1  # ~3,000 after: one page after another
    assert len(ranges("in/", "in/10", 1000)) == 7  # 1/32 listed: ~31,000 after
    assert len(ranges("in/", "in/00", 1000)) == MAX_RANGES
    assert ranges("in/", "in/Zz", 1000) == [("in/Zz", None)]  # not base32hex: as before
    assert position("80") == 0.25 and name_at(0.25) == "80"


async def test_ses_names_are_listed_in_parallel_ranges() -> None:
    """200 SES-like names: ~4 ranges listed side by side, few requests more."""
    pager = Pager(_ses_names(200, 3))
    first = await pager("", None)
    await list_rest(pager, "in/", first.objects[-1].key, PAGE, per_range=5 * PAGE)
    assert pager.requests - 1 <= 200 // PAGE + MAX_RANGES


async def test_a_failing_range_fails_the_listing_with_its_error() -> None:
    pager = Pager(_ses_names(100, 4))

    async def failing(start_after: str, token: str | None) -> Page:
        if start_after != "in/00":  # every range but the first
            raise StoreUnavailable("S3 list_objects_v2 failed: 503")
        return await pager(start_after, token)

    with pytest.raises(StoreUnavailable):
        await list_rest(failing, "in/", "in/00", PAGE, per_range=PAGE)


async def test_requests_in_flight_stay_within_the_shared_limiter(autojump_clock: object) -> None:
    """Two big logins at once share the pool's limiter: never more requests in flight."""
    pager = Pager(_ses_names(300, 5))
    in_flight = peak = 0

    async def slow(start_after: str, token: str | None) -> Page:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await trio.sleep(0.02)
        in_flight -= 1
        return await pager(start_after, token)

    limiter = trio.CapacityLimiter(3)
    async with trio.open_nursery() as nursery:
        for _ in range(2):
            nursery.start_soon(
                partial(list_rest, limiter=limiter, per_range=PAGE), slow, "in/", "in/00", PAGE
            )
    assert peak == 3


class FolderPager(Pager):
    """``Pager`` with ``Delimiter="/"``: a sub-folder's keys come back once as a common
    prefix that takes a place on the page (as ListObjectsV2 counts it) but is no object."""

    def __init__(self, keys: list[str], *, honour_start_after: bool = True) -> None:
        entries = {"in/" + key[3:].split("/")[0] + "/" if "/" in key[3:] else key for key in keys}
        super().__init__(sorted(entries, key=utf8_key), honour_start_after=honour_start_after)

    async def __call__(self, start_after: str, token: str | None) -> Page:
        page = await super().__call__(start_after, token)
        objects = [item for item in page.objects if not item.key.endswith("/")]
        last = page.objects[-1].key if page.objects else None
        return Page(objects, page.next_token, last)


_CHARS = st.sampled_from([*"0123456789abcdefghijklmnopqrstuvwxyzAZ~/-", "ü", "€", "\U0001f600"])
_NAMES = st.one_of(
    st.text(_CHARS, min_size=1, max_size=4),
    st.sampled_from(["0", "8", "8g", "g0", "o0", "v", "vv", "vvv", "00", "10"]),  # cut points
    st.text(st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF), min_size=1, max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(
    names=st.sets(_NAMES, min_size=1, max_size=60),
    honour=st.booleans(),
    per_range=st.sampled_from([1, PAGE, 4 * PAGE]),
)
def test_any_key_set_is_listed_once_as_one_listing_would(
    names: set[str], honour: bool, per_range: int
) -> None:
    """Property: for any names (sub-folders, non-ASCII, surrogates, names equal to a cut
    point, first pages ending in common prefixes, empty ranges), the first page plus
    ``list_rest`` is the listing page by page, each object once."""
    pager = FolderPager(["in/" + name for name in names], honour_start_after=honour)
    reference = [key for key in pager.keys if not key.endswith("/")]

    async def listing() -> list[str]:
        first = await pager("", None)
        keys = [item.key for item in first.objects]
        page = first
        while page.next_token is not None and not page.objects:  # as S3Store.list_messages
            page = await pager("", page.next_token)
            keys += [item.key for item in page.objects]
        if page.next_token is not None:
            after = page.objects[-1].key
            rest = await list_rest(pager, "in/", after, len(keys), per_range=per_range)
            keys += [item.key for item in rest]
        return keys

    keys = trio.run(listing)
    assert sorted(keys, key=utf8_key) == reference
    assert len(keys) == len(set(keys))


async def test_a_range_stops_at_a_page_of_sub_folders_past_its_bound() -> None:
    """A page holding only common prefixes still shows where the listing is: a range whose
    upper bound it passes stops there instead of paging through the sub-folders after it."""
    pager = FolderPager(["in/0a", *(f"in/s{n:03d}/x" for n in range(5 * PAGE))])
    found = await list_range(pager, "in/", "in/1")
    assert [item.key for item in found] == ["in/0a"]
    assert pager.requests == 1


async def test_a_key_equal_to_a_cut_point_is_listed_once() -> None:
    """A cut point is the upper bound of one range and the start-after of the next: a key
    equal to it belongs to the first only (cut points alone are not hit by random names)."""
    cuts = [hi for _, hi in ranges("in/", "in/00", PAGE, PAGE) if hi is not None]
    assert len(cuts) == MAX_RANGES - 1
    pager = Pager([*cuts, *_ses_names(50, 7)])
    rest = await list_rest(pager, "in/", "in/00", PAGE, per_range=PAGE)
    keys = sorted((item.key for item in rest), key=utf8_key)
    assert keys == [key for key in pager.keys if utf8_key(key) > utf8_key("in/00")]


async def test_a_failing_range_cancels_the_others_and_returns_every_token(
    autojump_clock: object,
) -> None:
    """The first failure is raised, the ranges still waiting are cancelled (not left running
    to the end) and the shared limiter gets every token back."""
    pager = Pager(_ses_names(100, 6))
    limiter = trio.CapacityLimiter(MAX_RANGES)
    cancelled = 0

    async def fetch(start_after: str, token: str | None) -> Page:
        nonlocal cancelled
        if start_after == "in/00":
            await trio.sleep(0)
            raise StoreUnavailable("S3 list_objects_v2 failed: 503")
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled += 1
            raise
        return await pager(start_after, token)

    with trio.fail_after(60), pytest.raises(StoreUnavailable, match="503"):
        await list_rest(fetch, "in/", "in/00", PAGE, limiter=limiter, per_range=PAGE)
    assert cancelled == MAX_RANGES - 1
    assert limiter.borrowed_tokens == 0
