"""Unit costs behind ``docs/benchmarks-dovecot.md``, on this machine, in CPU time of this
process (all threads): the body encoder per MiB and its building blocks, one
``trio.to_thread.run_sync`` round trip, reading a small file inline, and sending a small
message as three ``send_all`` calls (status line, body, terminator) or one.

    .venv/bin/python -m bench.micro_costs
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import trio

from bench.compare_mail import big_message, small_message
from pop3srv.protocol.writer import BodyEncoder

N = 5000
CHUNK = 256 * 1024


def per_mib(label: str, chunks: list[bytes], work: Callable[[bytes], object]) -> None:
    start = time.process_time()
    for chunk in chunks:
        work(chunk)
    mib = sum(map(len, chunks)) / 2**20
    print(f"{label:42s} {(time.process_time() - start) * 1000 / mib:6.2f} ms CPU per MiB")


async def hops(n: int) -> None:
    for _ in range(n):
        await trio.to_thread.run_sync(lambda: None)


async def sends(n: int, parts: list[bytes]) -> None:
    """``n`` messages as ``parts`` over a socketpair, drained by a plain reader thread."""
    ours, theirs = socket.socketpair()
    total = n * sum(map(len, parts))

    def reader() -> None:
        got = 0
        while got < total:
            got += len(theirs.recv(1 << 20))

    thread = threading.Thread(target=reader)
    thread.start()
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
    for _ in range(n):
        for part in parts:
            with trio.fail_after(600):  # as the server's outbox does per send
                await stream.send_all(part)
    await trio.to_thread.run_sync(thread.join)
    await stream.aclose()
    theirs.close()


def timed(label: str, n: int, run: Callable[[], None]) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    cpu_us = (time.process_time() - cpu) / n * 1e6
    wall_us = (time.perf_counter() - wall) / n * 1e6
    print(f"{label:42s} {cpu_us:6.0f} us CPU, {wall_us:6.0f} us wall, each")


def main() -> None:
    big = big_message(40)
    chunks = [big[i : i + CHUNK] for i in range(0, len(big), CHUNK)]
    encoder = BodyEncoder()
    per_mib("BodyEncoder.encode (256 KiB chunks)", chunks, encoder.encode)
    per_mib("  bytes.replace CRLF -> LF", chunks, lambda c: c.replace(b"\r\n", b"\n"))
    per_mib("  bytes copy", chunks, lambda c: bytes(bytearray(c)))
    per_mib("  bytes.count LF", chunks, lambda c: c.count(b"\n"))
    per_mib("  bytes.count CRLF", chunks, lambda c: c.count(b"\r\n"))
    per_mib("  b'\\n.' in chunk", chunks, lambda c: b"\n." in c)

    timed("trio.to_thread.run_sync(no-op)", N, lambda: trio.run(hops, N))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "message"
        path.write_bytes(small_message(1))

        def inline_reads() -> None:
            for _ in range(N):
                with path.open("rb", buffering=0) as handle:
                    handle.read(CHUNK)
                    os.fstat(handle.fileno())

        timed("open+read+fstat+close of 1.4 KiB, inline", N, inline_reads)
    message = small_message(1)
    status = f"+OK {len(message)} octets\r\n".encode()
    timed(
        "small message as 3 send_all (+reader)",
        N,
        lambda: trio.run(sends, N, [status, message, b".\r\n"]),
    )
    timed(
        "small message as 1 send_all (+reader)",
        N,
        lambda: trio.run(sends, N, [status + message + b".\r\n"]),
    )


if __name__ == "__main__":
    main()
