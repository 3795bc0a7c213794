"""Benchmark: memory a login holds per listed message (the S3 listing's ``MessageInfo`` and
the maildrop's numbered ``Entry``), with ``tracemalloc``, for ``--messages`` SES-like keys.

    .venv/bin/python -m bench.scale_memory [--messages 50000]
"""

from __future__ import annotations

import argparse
import json
import tracemalloc

from pop3srv.maildrop import Maildrop
from pop3srv.storage.base import MessageInfo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50000)
    args = parser.parse_args()
    tracemalloc.start()
    infos = [
        MessageInfo(
            arrived=1_700_000_000.0 + n,
            key=f"0100018c{n:08x}5e1f0c2a7d3b4e9a9f111a2b3c4d5e6f",
            size=900 + n % 100,
            etag=f'"{n:032x}"',
        )
        for n in range(args.messages)
    ]
    listed, _ = tracemalloc.get_traced_memory()
    drop = Maildrop(infos)
    del infos
    held, peak = tracemalloc.get_traced_memory()
    assert len(drop) == args.messages
    print(
        json.dumps(
            {
                "messages": args.messages,
                "listing_bytes_per_message": round(listed / args.messages),
                "maildrop_bytes_per_message": round(held / args.messages),
                "peak_mib": round(peak / 2**20, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
