"""Benchmark: pop3srv's S3 store against SeaweedFS (``weed mini``) on 127.0.0.1.

Measures

* listing a 10,000-object mailbox with the store (requests made, seconds; a cold and a warm
  client) and the same mailbox as a POP3 login + UIDL through the server;
* RETR of a 40 MiB message: MiB/s and the server's RSS growth while it streams;
* ``TOP n 0`` of that message: octets fetched from S3 (counted by a pass-through proxy between
  the server and SeaweedFS);
* logins per second (USER, PASS, STAT, QUIT) with a warm client pool.

The server runs as a subprocess (``python -m pop3srv serve --any-free-port --ports-file F``) with
``POP3_*`` settings pointing at the bucket. Prints JSON for docs/benchmarks.md.

    .venv/bin/python -m bench.s3 [--objects 10000] [--big-mib 40] [--logins 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trio
from prometheus_client import CollectorRegistry

from bench.retr import PASSWORD, USER, Client, measure_retr, server
from pop3srv.metrics import create_metrics
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3 import S3Store
from tests.s3.proxy import FaultProxy
from tests.s3.servers import S3Server, SeaweedFS

BODY_LINE = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"


@contextmanager
def pop3_server(
    s3: S3Server, bucket: str, prefix: str, state: Path, endpoint_url: str | None = None
) -> Iterator[tuple[int, int]]:
    """``pop3srv serve`` on the bucket; yields (pid, plain port)."""
    with server(
        state / "mail",
        state,
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),  # this tree's pop3srv
        **s3.env(bucket, prefix, endpoint_url),
    ) as running:
        yield running


def login(port: int) -> Client:
    client = Client(port)
    client.command(f"USER {USER}")
    reply = client.command(f"PASS {PASSWORD}")
    if not reply.startswith(b"+OK"):
        raise RuntimeError(f"login failed: {reply!r}")
    return client


def count(pool: S3Pool, operation: str) -> int:
    return int(
        sum(
            sample.value
            for metric in pool.metrics.s3_requests_total.collect()
            for sample in metric.samples
            if sample.name == "s3_requests_total" and sample.labels["operation"] == operation
        )
    )


def bench_list(s3: S3Server, bucket: str, state: Path) -> dict[str, float]:
    async def run() -> dict[str, float]:
        pool = S3Pool(create_metrics(CollectorRegistry()))
        store = S3Store(s3.location(bucket, "many"), pool)
        start = time.perf_counter()
        messages = await store.list_messages()
        cold = time.perf_counter() - start
        start = time.perf_counter()
        await store.list_messages()
        warm = time.perf_counter() - start
        return {
            "messages": len(messages),
            "requests_per_listing": count(pool, "list_objects_v2") / 2,
            "seconds_cold_client": cold,
            "seconds_warm_client": warm,
        }

    result = trio.run(run)
    with pop3_server(s3, bucket, "many", state / "list") as (_pid, port):
        start = time.perf_counter()
        client = login(port)
        client.command("UIDL")
        client.drain_body()
        client.command("QUIT")
        result["pop3_login_and_uidl_seconds"] = time.perf_counter() - start
    return result


def bench_retr(s3: S3Server, bucket: str, state: Path) -> dict[str, float]:
    with pop3_server(s3, bucket, "big", state / "retr") as (pid, port):
        client = login(port)
        result = measure_retr(client, pid)
        client.command("QUIT")
    return result


def bench_top_and_logins(s3: S3Server, bucket: str, state: Path, logins: int) -> dict[str, float]:
    with (
        FaultProxy(s3.host_port) as proxy,
        pop3_server(s3, bucket, "big", state / "top", proxy.endpoint_url) as (_pid, port),
    ):
        client = login(port)
        proxy.received.clear()
        client.command("TOP 1 0")
        header_octets = client.drain_body()
        client.command("QUIT")
        fetched = proxy.received["get"]
        seen_before = sum(proxy.seen.values())
        start = time.perf_counter()
        for _ in range(logins):
            client = login(port)
            client.command("STAT")
            client.command("QUIT")
            client.sock.close()
        seconds = time.perf_counter() - start
        requests_per_login = (sum(proxy.seen.values()) - seen_before) / logins
    return {
        "top_header_octets_sent": header_octets,
        "top_octets_fetched_from_s3": fetched,
        "logins": logins,
        "logins_per_second": logins / seconds,
        "s3_requests_per_login": requests_per_login,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--big-mib", type=int, default=40)
    parser.add_argument("--logins", type=int, default=200)
    args = parser.parse_args()
    s3 = SeaweedFS.start()
    try:
        bucket = s3.create_bucket("bench")
        size = args.big_mib * 2**20
        big = (b"Subject: big\r\n\r\n" + BODY_LINE * (size // len(BODY_LINE) + 1))[:size]
        s3.put(bucket, "big/message", big)
        start = time.perf_counter()
        s3.bulk_put(
            bucket,
            (
                (f"many/msg-{i:06d}", f"Subject: message {i}\r\n\r\n{'x' * 200}\r\n".encode())
                for i in range(args.objects)
            ),
        )
        loaded = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            results = {
                "setup": {"objects": args.objects, "load_seconds": loaded},
                "list": bench_list(s3, bucket, state),
                "retr_big": bench_retr(s3, bucket, state),
                "top_and_logins": bench_top_and_logins(s3, bucket, state, args.logins),
            }
    finally:
        s3.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
