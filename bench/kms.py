"""Benchmark: SES-encrypted mail (KMS envelope) against the same mail stored plain.

S3 is SeaweedFS on 127.0.0.1, KMS is moto's server mode; objects are written as SES writes them
(``tests/s3/ses.py``). For each of four mailboxes (200 small messages of ~0.9 KB, encrypted
and plain; one 40 MiB message, encrypted and plain) ``pop3srv serve`` runs as a subprocess and
one raw-socket client logs in, RETRs every message and QUITs, ``--rounds`` times. Reported
(medians over the rounds): seconds per session, MB/s of message octets, the server's CPU per
message (utime + stime from /proc), and for the 40 MiB message the server's RSS growth.

Every round is a new login, so each encrypted message costs one KMS Decrypt per round.

    .venv/bin/python -m bench.kms [--small 200] [--big-mib 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.proctree import cpu_seconds
from bench.retr import PASSWORD, USER, Client, RssSampler, rss_kib, server
from tests.s3.servers import Moto, S3Server, SeaweedFS
from tests.s3.ses import SesWriter, kms_client

BODY_LINE = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"


def small_message(index: int) -> bytes:
    header = (
        f"Return-Path: <sender{index}@example.com>\r\nFrom: sender{index}@example.com\r\n"
        f"To: jane@example.com\r\nSubject: message {index}\r\n"
        f"Message-ID: <{index}@example.com>\r\nContent-Type: text/plain\r\n\r\n"
    ).encode()
    return header + b"Hello Jane,\r\n" + b"a line of an ordinary short mail body.\r\n" * 16


def big_message(mib: int) -> bytes:
    size = mib * 1024 * 1024
    head = b"Subject: big\r\n\r\n"
    return head + (BODY_LINE * (size // len(BODY_LINE) + 1))[: size - len(head)]


def session(port: int, count: int) -> int:
    """Log in, RETR 1..count, QUIT; returns the message octets received."""
    client = Client(port)
    client.command(f"USER {USER}")
    if not client.command(f"PASS {PASSWORD}").startswith(b"+OK"):
        raise RuntimeError("login failed")
    octets = 0
    for number in range(1, count + 1):
        status = client.command(f"RETR {number}")
        if not status.startswith(b"+OK"):
            raise RuntimeError(f"RETR {number}: {status!r}")
        octets += client.drain_body()
    client.command("QUIT")
    client.sock.close()
    return octets


def measure(
    s3: S3Server, bucket: str, prefix: str, kms: str, state: Path, count: int, rounds: int
) -> dict[str, float]:
    env = s3.env(bucket, prefix)
    env["POP3_AWS_KMS_ENDPOINT_URL"] = kms
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    seconds, cpu, growth = [], [], []
    octets = 0
    with server(state / "mail", state, **env) as (pid, port):
        session(port, min(count, 2))  # warm: S3 and KMS clients, first decryption
        for _ in range(rounds):
            before_rss, before_cpu = rss_kib(pid), cpu_seconds(pid)
            with RssSampler(pid) as sampler:
                start = time.perf_counter()
                octets = session(port, count)
                seconds.append(time.perf_counter() - start)
            cpu.append(cpu_seconds(pid) - before_cpu)
            growth.append((sampler.peak - before_rss) / 1024)
    wall = statistics.median(seconds)
    return {
        "messages": count,
        "session_seconds": round(wall, 4),
        "MB_per_s": round(octets / 1e6 / wall, 2),
        "server_cpu_ms_per_message": round(statistics.median(cpu) * 1000 / count, 3),
        "rss_growth_MiB": round(max(growth), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--big-mib", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    s3, kms = SeaweedFS.start(), Moto.start()
    try:
        ses = SesWriter.create(s3, kms_client(kms.endpoint_url), kms.endpoint_url)
        bucket = s3.create_bucket("bench-kms")
        for index in range(args.small):
            raw = small_message(index)
            ses.put(bucket, f"small-enc/{index:05d}", raw)
            s3.put(bucket, f"small-plain/{index:05d}", raw)
        big = big_message(args.big_mib)
        ses.put(bucket, "big-enc/big", big)
        s3.put(bucket, "big-plain/big", big)
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name, count in (
                ("small-plain", args.small),
                ("small-enc", args.small),
                ("big-plain", 1),
                ("big-enc", 1),
            ):
                state = Path(tmp) / name
                state.mkdir()
                results[name] = measure(
                    s3, bucket, name, kms.endpoint_url, state, count, args.rounds
                )
        print(json.dumps(results, indent=2))
    finally:
        s3.stop()
        kms.stop()


if __name__ == "__main__":
    main()
