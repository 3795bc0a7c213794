"""Benchmark: one session retrieving a 40 MiB message, and a 2,000-message mailbox.

Runs ``pop3srv serve`` as a subprocess on 127.0.0.1 over a local mail folder, retrieves with a
raw-socket client and samples the server's RSS from /proc while it sends. Prints a Markdown
table row set for docs/benchmarks.md.

    .venv/bin/python -m bench.retr [--messages 2000] [--big-mib 40]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER, PASSWORD = "bench", "bench-password"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class RssSampler:
    """Samples a process's RSS every few milliseconds in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self.peak = rss_kib(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_kib(self.pid))


@contextmanager
def server(mail_dir: Path, state: Path, **extra_env: str) -> Iterator[tuple[int, int]]:
    """``pop3srv serve`` as a subprocess on free loopback ports, static login USER/PASSWORD
    on ``mail_dir`` unless ``extra_env`` says otherwise; yields (pid, plain port)."""
    state.mkdir(parents=True, exist_ok=True)
    ports_file = state / "ports.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POP3_", "AWS_"))}
    env.update(
        POP3_HOST="127.0.0.1",
        POP3_MAIL_DIR=str(mail_dir),
        POP3_STATE_DIR=str(state),
        POP3_USER=USER,
        POP3_PASSWORD=PASSWORD,
        POP3_ADMIN_PORT="0",
        HOME=str(state),
        **extra_env,
    )
    command = [sys.executable, "-m", "pop3srv", "serve", "--any-free-port"]
    process = subprocess.Popen(
        [*command, "--ports-file", str(ports_file)],
        cwd=state,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not ports_file.exists() or not ports_file.read_text():
            if process.poll() is not None:
                raise RuntimeError("server exited")
            time.sleep(0.05)
        yield process.pid, json.loads(ports_file.read_text())["plain"][0][1]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def measure_retr(client: Client, pid: int) -> dict[str, float]:
    """RETR 1 on a logged-in client: throughput and the server's RSS while it sends."""
    before = rss_kib(pid)
    with RssSampler(pid) as sampler:
        start = time.perf_counter()
        client.command("RETR 1")
        octets = client.drain_body()
        seconds = time.perf_counter() - start
    return {
        "MiB": octets / 2**20,
        "seconds": seconds,
        "MiB/s": octets / 2**20 / seconds,
        "rss_before_MiB": before / 1024,
        "rss_peak_MiB": sampler.peak / 1024,
        "rss_growth_MiB": (sampler.peak - before) / 1024,
    }


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb", buffering=1 << 20)
        self.file.readline()

    def command(self, text: str) -> bytes:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.file.readline()

    def drain_body(self) -> int:
        total = 0
        for line in self.file:
            if line == b".\r\n":
                return total
            total += len(line)
        raise ConnectionError("closed inside a body")


def bench_big(mail_dir: Path, state: Path, mib: int) -> dict[str, float]:
    body_line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    size = mib * 1024 * 1024
    (mail_dir / "big").write_bytes((b"Subject: big\r\n\r\n" + body_line * (size // 74 + 1))[:size])
    with server(mail_dir, state) as (pid, port):
        client = Client(port)
        client.command(f"USER {USER}")
        client.command(f"PASS {PASSWORD}")
        result = measure_retr(client, pid)
        client.command("QUIT")
    return result


def bench_many(mail_dir: Path, state: Path, count: int) -> dict[str, float]:
    for index in range(count):
        body = f"Subject: message {index}\r\n\r\n" + "line of text\r\n" * 100
        (mail_dir / f"msg-{index:06d}").write_bytes(body.encode())
    with server(mail_dir, state) as (pid, port):
        before = rss_kib(pid)
        with RssSampler(pid) as sampler:
            start = time.perf_counter()
            client = Client(port)
            client.command(f"USER {USER}")
            client.command(f"PASS {PASSWORD}")
            client.command("UIDL")
            client.drain_body()
            octets = 0
            for number in range(1, count + 1):
                client.command(f"RETR {number}")
                octets += client.drain_body()
            client.command("QUIT")
            seconds = time.perf_counter() - start
    return {
        "messages": count,
        "seconds": seconds,
        "messages/s": count / seconds,
        "MiB/s": octets / 2**20 / seconds,
        "rss_peak_MiB": sampler.peak / 1024,
        "rss_growth_MiB": (sampler.peak - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--big-mib", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("big", "many"):
            (root / name / "mail").mkdir(parents=True)
        big = bench_big(root / "big" / "mail", root / "big", args.big_mib)
        many = bench_many(root / "many" / "mail", root / "many", args.messages)
    print(json.dumps({"retr_big": big, "mailbox": many}, indent=2))


if __name__ == "__main__":
    main()
