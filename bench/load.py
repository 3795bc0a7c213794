"""Load benchmark: many concurrent POP3 sessions against ``pop3srv serve`` (a subprocess on
127.0.0.1), then many idle authenticated connections, with the server's RSS.

Phase 1: ``--sessions`` client tasks loop for ``--seconds``: connect, USER/PASS, STAT, UIDL,
RETR every message, QUIT — each task on its own mailbox (a ``users``/``mailboxes`` config, so
the one-session-per-maildrop lock never refuses). Reports sessions/s, p50/p99 session
latency, errors, and the server's RSS. Phase 2: ``--idle`` connections log in and stay idle;
reports the server's RSS and per-connection cost.

    .venv/bin/python -m bench.load [--sessions 1000] [--seconds 60] [--idle 5000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import trio

from bench.retr import RssSampler, rss_kib, server

PASSWORD = "load-password"


def _write_config(root: Path, users: int, messages: int) -> Path:
    mail = root / "mail"
    lines = ["mailboxes:"]
    for index in range(users):
        folder = mail / f"u{index:05d}"
        folder.mkdir(parents=True)
        for number in range(messages):
            body = f"Subject: {number}\r\n\r\n" + "text line\r\n" * 150
            (folder / f"m{number}").write_bytes(body.encode())
        lines.append(f"  u{index:05d}: {{folder: u{index:05d}}}")
    lines.append("users:")
    lines += [f"  u{i:05d}: {{password: {PASSWORD}, mailbox: u{i:05d}}}" for i in range(users)]
    config = root / "config.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


class Client:
    """A minimal async POP3 client on a trio socket stream."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def connect(cls, port: int) -> Client:
        client = cls(await trio.open_tcp_stream("127.0.0.1", port))
        await client.line()
        return client

    async def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    async def body(self) -> bytes:
        while b"\r\n.\r\n" not in self.buffer:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        body, self.buffer = self.buffer.split(b"\r\n.\r\n", 1)
        return body

    async def command(self, text: str, *, multi: bool = False) -> bytes:
        await self.stream.send_all(text.encode() + b"\r\n")
        status = await self.line()
        if not status.startswith(b"+OK"):
            raise RuntimeError(f"{text.split(maxsplit=1)[0]}: {status!r}")
        return await self.body() if multi else status

    async def login(self, user: str) -> None:
        await self.command(f"USER {user}")
        await self.command(f"PASS {PASSWORD}")


async def _session(port: int, user: str) -> None:
    client = await Client.connect(port)
    await client.login(user)
    count = int((await client.command("STAT")).split()[1])
    await client.command("UIDL", multi=True)
    for number in range(1, count + 1):
        await client.command(f"RETR {number}", multi=True)
    await client.command("QUIT")
    await client.stream.aclose()


async def _worker(
    port: int, user: str, until: float, latencies: list[float], errors: list[str]
) -> None:
    while trio.current_time() < until:
        start = trio.current_time()
        try:
            await _session(port, user)
        except (OSError, RuntimeError, ConnectionError, trio.BrokenResourceError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            await trio.sleep(0.1)
            continue
        latencies.append(trio.current_time() - start)


async def load_phase(port: int, sessions: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    until = trio.current_time() + seconds
    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for index in range(sessions):
            nursery.start_soon(_worker, port, f"u{index:05d}", until, latencies, errors)
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "concurrent_sessions": sessions,
        "seconds": elapsed,
        "sessions": len(latencies),
        "sessions_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered) if ordered else 0,
        "p99_ms": 1000 * ordered[int(len(ordered) * 0.99) - 1] if ordered else 0,
        "errors": len(errors),
        "first_errors": errors[:5],  # type: ignore[dict-item]
    }


async def idle_phase(port: int, count: int, users: int, pid: int) -> dict[str, float]:
    before = rss_kib(pid)
    clients: list[Client] = []
    errors = 0
    limiter = trio.CapacityLimiter(200)

    async def open_one(index: int) -> None:
        nonlocal errors
        async with limiter:
            try:
                client = await Client.connect(port)
                await client.login(f"u{index % users:05d}")
                clients.append(client)
            except (OSError, RuntimeError, ConnectionError):
                errors += 1

    async with trio.open_nursery() as nursery:
        for index in range(count):
            nursery.start_soon(open_one, index)
    await trio.sleep(2)
    after = rss_kib(pid)
    for client in clients:
        await client.stream.aclose()
    return {
        "idle_connections": len(clients),
        "errors": errors,
        "rss_before_MiB": before / 1024,
        "rss_with_idle_MiB": after / 1024,
        "KiB_per_connection": (after - before) / max(1, len(clients)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=5)
    args = parser.parse_args()
    users = max(args.sessions, args.idle)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = _write_config(root, users, args.messages)
        caps = {"POP3_MAX_CONNECTIONS": "20000", "POP3_MAX_CONNECTIONS_PER_IP": "20000"}
        with server(root / "mail", root / "state", POP3_CONFIG=str(config), **caps) as running:
            pid, port = running
            with RssSampler(pid) as sampler:
                load = trio.run(load_phase, port, args.sessions, args.seconds)
            load["server_rss_peak_MiB"] = sampler.peak / 1024
            idle = trio.run(idle_phase, port, args.idle, users, pid)
    print(json.dumps({"load": load, "idle": idle}, indent=2))


if __name__ == "__main__":
    main()
