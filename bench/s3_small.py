"""Benchmark: many small SES mails from S3 (SeaweedFS on 127.0.0.1), the Go original's ground.

Each mailbox holds ``--messages`` SES-style mails of ~0.9 KB under its own prefix. A session is
what mail clients do: connect, USER, PASS, STAT, UIDL, LIST, RETR of every message one after
another, QUIT (nothing deleted). Measured, against one ``pop3srv serve`` subprocess:

* ``sessions``: sessions/s with 1 and with 4 clients (each its own process and mailbox) for
  ``--seconds``; the server's CPU (utime + stime from ``/proc/<pid>/stat``) per session and per
  message retrieved;
* ``delayed``: one session (and a ``TOP n 0`` loop) on a mailbox whose endpoint is a
  ``bench.delay_proxy`` adding ``--delay-ms`` to every S3 request; seconds, median of
  ``--repeat``;
* ``login``: PASS on a ``--big`` message mailbox, warm (the client pool exists), median of
  ``--repeat``.

    .venv/bin/python -m bench.s3_small [--messages 200] [--seconds 6] [--delay-ms 20]
    .venv/bin/python -m bench.s3_small --sessions-only --src /tmp/base   # CPU phases, another tree
    .venv/bin/python -m bench.s3_small --base-src /tmp/base --rounds 5   # both trees in turns

``--base-src DIR`` serves a second server from DIR next to the changed tree (``--src`` or this
checkout), both started once over the same objects, and measures the sessions phases of each
in turn ``--rounds`` times (the order alternates per round): medians per tree and the median
of the within-round ratios changed/base, which the machine's background load moves far less
than single figures.

``--profile FILE`` instead samples the server with py-spy (``.venv/bin/pip install py-spy``,
ptrace rights) while one client loops sessions, and writes the raw stacks to FILE
(summarise them with ``bench.profile_pop3srv.summarise``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.delay_proxy import DelayProxy
from bench.profile_pop3srv import record
from bench.retr import server
from tests.s3.servers import S3Server, SeaweedFS

PASSWORD = "small-password"
CLIENTS = 4


def ses_mail(index: int) -> bytes:
    """A ~0.9 KB mail shaped like what SES stores (its headers, a short text body)."""
    message_id = f"0100018c{index:08x}-5e1f0c2a-7d3b-4e9a-9f11-1a2b3c4d5e6f-000000"
    headers = [
        "Return-Path: <sender@example.org>",
        "Received: from mail.example.org (mail.example.org [192.0.2.10])"
        " by inbound-smtp.eu-west-1.amazonaws.com with SMTP id abcdef0123456789"
        " for user@example.com; Mon, 30 Nov 2026 09:00:00 +0000 (UTC)",
        "X-SES-Spam-Verdict: PASS",
        "X-SES-Virus-Verdict: PASS",
        "Received-SPF: pass (spfCheck: domain of example.org designates 192.0.2.10 as permitted"
        " sender) client-ip=192.0.2.10;",
        "Authentication-Results: amazonses.com; spf=pass; dkim=pass header.i=@example.org;",
        "From: Sender <sender@example.org>",
        "To: user@example.com",
        f"Subject: small message {index}",
        f"Message-ID: <{message_id}@example.org>",
        "Date: Mon, 30 Nov 2026 09:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
    ]
    body = [f"Hello, this is message {index}.", "", "A line of ordinary text." * 2] * 4
    return ("\r\n".join(headers) + "\r\n\r\n" + "\r\n".join(body) + "\r\n").encode()


class FastClient:
    """A raw POP3 client that costs the machine little: replies read until their end."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.line()

    def _more(self) -> None:
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("server closed")
        self.buf += data

    def line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            self._more()
        line, self.buf = self.buf[: end + 2], self.buf[end + 2 :]
        return line

    def command(self, text: str, multiline: bool = False) -> bytes:
        self.sock.sendall(text.encode() + b"\r\n")
        status = self.line()
        if not multiline or not status.startswith(b"+OK"):
            return status
        if self.buf.startswith(b".\r\n"):
            self.buf = self.buf[3:]
            return b""
        while (end := self.buf.find(b"\r\n.\r\n")) < 0:
            self._more()
        body, self.buf = self.buf[: end + 2], self.buf[end + 5 :]
        return body

    def close(self) -> None:
        self.sock.close()


def session(port: int, user: str, *, top: bool = False) -> int:
    """One mail-client session; returns the messages retrieved."""
    client = FastClient(port)
    try:
        client.command(f"USER {user}")
        reply = client.command(f"PASS {PASSWORD}")
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"login failed: {reply!r}")
        count = int(client.command("STAT").split()[1])
        client.command("UIDL", multiline=True)
        client.command("LIST", multiline=True)
        for number in range(1, count + 1):
            verb = f"TOP {number} 0" if top else f"RETR {number}"
            if not client.command(verb, multiline=True):
                raise RuntimeError(f"{verb}: empty or failed")
        client.command("QUIT")
        return count
    finally:
        client.close()


def worker(port: int, user: str, seconds: float) -> None:
    """``--worker``: loop sessions until ``seconds`` have passed; print how many and their
    messages as JSON."""
    deadline = time.perf_counter() + seconds
    sessions = messages = 0
    while time.perf_counter() < deadline:
        messages += session(port, user)
        sessions += 1
    print(json.dumps({"sessions": sessions, "messages": messages}))


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def bench_sessions(pid: int, port: int, clients: int, seconds: float) -> dict[str, float]:
    session(port, "u0")  # warm: the client pool, imports, caches
    (user, system), start = cpu_times(pid), time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.s3_small", "--worker", str(port), f"u{i}", str(seconds)],
            stdout=subprocess.PIPE,
        )
        for i in range(clients)
    ]
    results = [json.loads(w.communicate()[0]) for w in workers]
    elapsed = time.perf_counter() - start
    user_after, system_after = cpu_times(pid)
    user, system = user_after - user, system_after - system
    cpu = user + system
    sessions = sum(r["sessions"] for r in results)
    messages = sum(r["messages"] for r in results)
    return {
        "clients": clients,
        "sessions": sessions,
        "sessions_per_second": sessions / elapsed,
        "server_cpu_ms_per_session": 1000 * cpu / max(sessions, 1),
        "server_cpu_ms_per_message": 1000 * cpu / max(messages, 1),
        "server_user_ms_per_message": 1000 * user / max(messages, 1),
        "server_system_ms_per_message": 1000 * system / max(messages, 1),
    }


def timed(repeat: int, fn: object) -> list[float]:
    assert callable(fn)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def bench_login(port: int, repeat: int) -> dict[str, float]:
    def login() -> None:
        client = FastClient(port)
        client.command("USER big")
        start = time.perf_counter()
        reply = client.command(f"PASS {PASSWORD}")
        pass_times.append(time.perf_counter() - start)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"login failed: {reply!r}")
        client.command("QUIT")
        client.close()

    pass_times: list[float] = []
    login()  # warm
    pass_times.clear()
    timed(repeat, login)
    return {
        "pass_ms_median": 1000 * statistics.median(pass_times),
        "pass_ms_min": 1000 * min(pass_times),
        "pass_ms_max": 1000 * max(pass_times),
    }


def compare(
    base: tuple[int, int], changed: tuple[int, int], rounds: int, seconds: float
) -> dict[str, object]:
    """The sessions phases of two servers in turn, ``rounds`` times; medians and ratios."""
    keys = ("server_cpu_ms_per_message", "server_cpu_ms_per_session", "sessions_per_second")
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        tree: {"1": [], "4": []} for tree in ("base", "changed")
    }
    servers = {"base": base, "changed": changed}
    for index in range(rounds):
        order = ("base", "changed") if index % 2 == 0 else ("changed", "base")
        for clients in (1, CLIENTS):
            for tree in order:
                pid, port = servers[tree]
                result = bench_sessions(pid, port, clients, seconds)
                runs[tree][str(clients)].append(result)
                load = os.getloadavg()[0]
                print(f"round {index} {tree} {clients} load {load:.1f}: {result}", file=sys.stderr)
    summary: dict[str, object] = {}
    for label in ("1", str(CLIENTS)):
        for key in keys:
            base_values = [r[key] for r in runs["base"][label]]
            changed_values = [r[key] for r in runs["changed"][label]]
            ratios = [c / b for b, c in zip(base_values, changed_values, strict=True) if b]
            summary[f"{key}_{label}"] = {
                "base_median": round(statistics.median(base_values), 4),
                "changed_median": round(statistics.median(changed_values), 4),
                "ratio_median": round(statistics.median(ratios), 3),
                "base": [round(v, 4) for v in base_values],
                "changed": [round(v, 4) for v in changed_values],
            }
    return summary


def write_config(root: Path, s3: S3Server, bucket: str, delayed_endpoint: str) -> Path:
    entries = {f"u{i}": (f"m{i}", s3.endpoint_url) for i in range(CLIENTS)}
    entries["delayed"] = ("m0", delayed_endpoint)
    entries["big"] = ("big", s3.endpoint_url)
    return write_s3_config(root, s3, bucket, entries)


def write_s3_config(
    root: Path, s3: S3Server, bucket: str, entries: dict[str, tuple[str, str]]
) -> Path:
    """One user and mailbox per entry: user -> (key prefix, endpoint URL)."""
    lines = ["mailboxes:"]
    for name, (prefix, endpoint) in entries.items():
        lines.append(
            f"  {name}: {{bucket: {bucket}, prefix: {prefix}, region: {s3.region},"
            f" endpoint-url: '{endpoint}', aws-access-key-id: {s3.access_key_id},"
            f" aws-secret-access-key: {s3.secret_access_key}}}"
        )
    lines.append("users:")
    lines += [f"  {name}: {{password: {PASSWORD}, mailbox: {name}}}" for name in entries]
    config = root / "config.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--big", type=int, default=2500)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", nargs=3, metavar=("PORT", "USER", "SECONDS"))
    parser.add_argument(
        "--sessions-only", action="store_true", help="skip the delayed and login phases"
    )
    parser.add_argument(
        "--src", type=Path, help="serve pop3srv from this tree (e.g. a base commit's worktree)"
    )
    parser.add_argument(
        "--base-src", type=Path, help="also serve this tree; measure both in turns (A/B)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="A/B rounds with --base-src")
    parser.add_argument("--profile", type=Path, help="py-spy the server: raw stacks to this file")
    parser.add_argument("--gil", action="store_true", help="profile: only samples holding the GIL")
    args = parser.parse_args()
    if args.worker:
        worker(int(args.worker[0]), args.worker[1], float(args.worker[2]))
        return
    s3 = SeaweedFS.start()
    try:
        bucket = s3.create_bucket("small")
        for i in range(CLIENTS):
            s3.bulk_put(bucket, ((f"m{i}/{n:06d}", ses_mail(n)) for n in range(args.messages)))
        s3.bulk_put(bucket, ((f"big/{n:06d}", ses_mail(n)) for n in range(args.big)))
        with (
            DelayProxy(s3.host_port, args.delay_ms / 1000) as proxy,
            tempfile.TemporaryDirectory() as tmp,
        ):
            root = Path(tmp)
            (root / "mail").mkdir()
            config = write_config(root, s3, bucket, proxy.endpoint_url)
            env = {
                "POP3_CONFIG": str(config),
                "PYTHONPATH": str(args.src or Path(__file__).parents[1]),
            }
            if args.base_src:
                base_env = env | {"PYTHONPATH": str(args.base_src)}
                with (
                    server(root / "mail", root / "base-state", **base_env) as base,
                    server(root / "mail", root / "state", **env) as changed,
                ):
                    print(json.dumps(compare(base, changed, args.rounds, args.seconds), indent=2))
                return
            with server(root / "mail", root / "state", **env) as (pid, port):
                session(port, "delayed")  # warm the delayed endpoint's client
                if args.profile:
                    work = lambda: worker(port, "u1", args.seconds)  # noqa: E731
                    record(pid, args.profile, work, rate=200, gil=args.gil)
                    return
                results: dict[str, object] = {
                    "sessions_1": bench_sessions(pid, port, 1, args.seconds),
                    "sessions_4": bench_sessions(pid, port, CLIENTS, args.seconds),
                }
                if args.sessions_only:
                    print(json.dumps(results, indent=2))
                    return
                results |= {
                    "delayed_session_s": timed(args.repeat, lambda: session(port, "delayed")),
                    "delayed_top_loop_s": timed(
                        args.repeat, lambda: session(port, "delayed", top=True)
                    ),
                    "login": bench_login(port, args.repeat * 3),
                }
    finally:
        s3.stop()
    for key in ("delayed_session_s", "delayed_top_loop_s"):
        values = results[key]
        assert isinstance(values, list)
        results[key] = {"median": statistics.median(values), "all": values}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
