"""The CPU a big S3 login spends on its own (no network): listing pages parsed, messages
numbered. ``S3Store.list_messages`` runs against an in-process page source that answers
ListObjectsV2 (``start-after``, continuation tokens, 1,000 keys a page) from XML documents
rendered once, as SeaweedFS renders them (namespace, ``encoding-type=url``, quoted ETags),
for SES-named keys (40 characters of base32hex) that arrived one second apart; then
``Maildrop`` numbers them. Median of ``--repeat`` runs, each phase timed; ``--profile`` prints
cProfile's top functions of one run.

    .venv/bin/python -m bench.scale_login_cpu [--count 50000] [--repeat 7] [--profile]
    PYTHONPATH=/tmp/base .venv/bin/python -m bench.scale_login_cpu   # another tree
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import pstats
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import trio
from prometheus_client import CollectorRegistry

from bench.scale_s3 import ses_key
from pop3srv.maildrop import Maildrop
from pop3srv.metrics import create_metrics
from pop3srv.storage.base import S3Location
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3 import S3Store
from pop3srv.storage.s3list import Page, parse_page

PAGE = 1000
PREFIX = "inbox/"
_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def render(keys: list[str], stamps: dict[str, str], token: str | None) -> bytes:
    """One ListObjectsV2 page as SeaweedFS writes it."""
    items = "".join(
        f"<Contents><Key>{key}</Key><ETag>&#34;{key[-32:]}&#34;</ETag>"
        f"<Size>{900 + len(key)}</Size><Owner><ID>0</ID></Owner>"
        f"<StorageClass>STANDARD</StorageClass><LastModified>{stamps[key]}</LastModified>"
        "</Contents>"
        for key in keys
    )
    more = (
        f"<IsTruncated>true</IsTruncated><NextContinuationToken>{token}</NextContinuationToken>"
        if token
        else "<IsTruncated>false</IsTruncated>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{_NS}">'
        f"<Name>bench</Name><Prefix>{PREFIX}</Prefix><MaxKeys>1000</MaxKeys>"
        f"<Delimiter>/</Delimiter>{more}<EncodingType>url</EncodingType>{items}"
        "</ListBucketResult>"
    ).encode()


class Pages:
    """ListObjectsV2 over a sorted key list; documents cached by where they start."""

    def __init__(self, count: int) -> None:
        start = 1_700_000_000
        names = [PREFIX + ses_key("bench", n) for n in range(count)]
        self.stamps = {
            name: datetime.fromtimestamp(start + n, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for n, name in enumerate(names)
        }
        self.keys = sorted(names)
        self.documents: dict[int, bytes] = {}
        self.parse_seconds = 0.0

    async def page(self, start_after: str | None, token: str | None = None) -> Page:
        begin = bisect.bisect_right(self.keys, token or start_after or "")
        document = self.documents.get(begin)
        if document is None:
            chunk = self.keys[begin : begin + PAGE]
            more = chunk[-1] if begin + PAGE < len(self.keys) else None
            document = self.documents[begin] = render(chunk, self.stamps, more)
        started = time.perf_counter()
        page = parse_page(document)
        self.parse_seconds += time.perf_counter() - started
        return page


async def login(pages: Pages, pool: S3Pool) -> dict[str, float]:
    store = S3Store(S3Location(bucket="bench", prefix=PREFIX), pool)
    store._page = pages.page  # type: ignore[method-assign]
    pages.parse_seconds = 0.0
    started = time.perf_counter()
    messages = await store.list_messages()
    listed = time.perf_counter()
    drop = Maildrop(messages)
    numbered = time.perf_counter()
    assert len(drop) == len(pages.keys)
    return {
        "parse_ms": pages.parse_seconds * 1000,
        "list_messages_ms": (listed - started) * 1000,
        "maildrop_ms": (numbered - listed) * 1000,
        "total_ms": (numbered - started) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    pages = Pages(args.count)
    pool = S3Pool(create_metrics(CollectorRegistry()))
    trio.run(login, pages, pool)  # renders and caches the documents
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        trio.run(login, pages, pool)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    runs: list[dict[str, Any]] = [trio.run(login, pages, pool) for _ in range(args.repeat)]
    medians = {name: round(statistics.median(r[name] for r in runs), 1) for name in runs[0]}
    print(f"{args.count} messages, median of {args.repeat}: {medians}")


if __name__ == "__main__":
    main()
