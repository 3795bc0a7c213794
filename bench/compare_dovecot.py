"""Benchmark: pop3srv side by side with Dovecot's POP3 server, on the same mail and client.

Starts, in one temporary directory, on 127.0.0.1 and free ports:

- pop3srv (``python -m pop3srv serve --any-free-port``, via ``bench.retr.server``) over a local
  mail folder, one sub-folder (one file per message) per user;
- Dovecot 2.3 from a generated minimal config (``dovecot -F -c CONF``, see
  ``bench.dovecot_instance``) over Maildirs holding the same messages, once with Dovecot's
  default settings and once with its "performance" login settings.

Then, alternating the servers within each phase so background load hits all of them alike:

1. warm-up (one login per mailbox, which is where Dovecot builds its index; one pass over the
   mail so both read from the page cache) and a byte-exactness check of several messages;
2. RETR of one 40 MiB message, several times (median MiB/s);
3. login + UIDL + RETR of all 2,000 messages (~1.5 KiB each) in one session (messages/s);
4. sequential logins (USER, PASS, STAT, QUIT) on a 10-message mailbox, and on the
   2,000-message one (the per-login cost of listing a big mailbox);
5. N parallel clients (threads), each with its own 50-message mailbox: login, UIDL, RETR all,
   QUIT (messages/s).

For every phase it takes the server's CPU time (utime+stime of the whole process tree from
/proc, Dovecot's exited children included through the master's cutime/cstime), the client's
own CPU time, and the peak summed RSS (and PSS) of the server's processes. The client is the
same code for all servers: ``bench.retr.Client`` with a block-reading body drain.

    .venv/bin/python -m bench.compare_dovecot [--quick] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bench import dovecot_instance, pop3srv_experiment, proctree
from bench.retr import PASSWORD, Client
from bench.retr import server as pop3srv_server

BASE_TIME = 1_700_000_000
DOT_EVERY = 7  # every 7th body line of the small messages starts with "." (dot-stuffing)


# --- the mail -------------------------------------------------------------------------------


def big_message(mib: int) -> bytes:
    """Exactly ``mib`` MiB, CRLF lines of 74 octets, a dot-line every 1,000 lines."""
    size = mib * 2**20
    head = b"From: sender@example.com\r\nTo: bench@example.com\r\nSubject: big\r\n\r\n"
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    dotted = b"." + line[1:]
    block = line * 999 + dotted
    body = head + block * ((size - len(head)) // len(block) + 1)
    body = body[: size - 2]
    if body.endswith(b"\r"):
        body = body[:-1] + b"x"
    return body + b"\r\n"


def small_message(index: int) -> bytes:
    """~1.5 KiB, CRLF, with a unique subject and some lines that need dot-stuffing."""
    lines = [
        b"From: sender@example.com",
        b"To: bench@example.com",
        f"Subject: message {index}".encode(),
        f"Message-ID: <{index}.bench@example.com>".encode(),
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000",
        b"",
    ]
    for n in range(19):
        text = f"line {n:02d} of message {index:06d}: the quick brown fox jumps over the dog"
        lines.append(("." if n % DOT_EVERY == 3 else "").encode() + text.encode())
    return b"\r\n".join(lines) + b"\r\n"


def wire_body(message: bytes) -> bytes:
    """What a RETR must send after the status line, terminator excluded (CRLF input)."""
    return re.sub(rb"(?m)^\.", b"..", message)


def write_folder(directory: Path, messages: Sequence[bytes]) -> None:
    """pop3srv's layout: one file per message, numbered by mtime then name."""
    directory.mkdir(parents=True, exist_ok=True)
    for index, body in enumerate(messages):
        path = directory / f"msg-{index:06d}"
        path.write_bytes(body)
        os.utime(path, (BASE_TIME + index, BASE_TIME + index))


# --- the client -----------------------------------------------------------------------------


class BenchClient(Client):
    """``bench.retr.Client`` with a body drain that reads blocks instead of lines (so the
    Python client is not what limits a 40 MiB RETR) and checks every reply."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.sock.settimeout(300)
        self.reader = cast(io.BufferedReader, self.file)

    def ok(self, text: str) -> bytes:
        reply = self.command(text)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"{text.split(maxsplit=1)[0]}: {reply!r}")
        return reply

    def login(self, user: str, password: str) -> None:
        self.ok(f"USER {user}")
        self.ok(f"PASS {password}")

    def drain_body(self) -> int:
        total, tail = 0, b"\r\n"  # the status line ended a line
        while True:
            chunk = self.reader.read1(1 << 20)
            if not chunk:
                raise ConnectionError("closed inside a body")
            total += len(chunk)
            # "\r\n.\r\n" can only be the terminator (a body line "." is sent as ".."), and
            # nothing follows it (no pipelining): the reply ends when the data so far does
            if (tail + chunk).endswith(b"\r\n.\r\n"):
                return total - 3
            tail = (tail + chunk)[-4:]

    def read_body(self) -> bytes:
        parts, tail = [], b"\r\n"
        while True:
            chunk = self.reader.read1(1 << 20)
            if not chunk:
                raise ConnectionError("closed inside a body")
            parts.append(chunk)
            if (tail + chunk).endswith(b"\r\n.\r\n"):
                return b"".join(parts)[:-3]
            tail = (tail + chunk)[-4:]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


# --- servers and measuring ------------------------------------------------------------------


@dataclass
class Target:
    name: str
    pid: int
    port: int
    keeps_login_processes: bool = False  # Dovecot's performance profile: they stay
    results: dict[str, Any] = field(default_factory=dict)

    def settle(self, open_sessions: int = 0, timeout: float = 5.0) -> None:
        """Waits until the processes a phase forked have gone (Dovecot's pop3 and login
        processes exit after the session and are reaped by the master), so their CPU time is
        in the master's cutime before we read it. ``open_sessions``: pop3 processes that stay
        (sessions the phase keeps open)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            names = proctree.process_names(proctree.tree_pids(self.pid))
            busy = names.get("pop3", 0) - open_sessions
            if not self.keeps_login_processes:
                busy += names.get("pop3-login", 0)
            if busy <= 0:
                break
            time.sleep(0.02)
        time.sleep(0.05)


@dataclass
class Measure:
    wall: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    peak_rss_mib: float = 0.0
    peak_pss_mib: float = 0.0
    peak_processes: int = 0


@contextmanager
def measuring(target: Target, open_sessions: int = 0) -> Iterator[Measure]:
    target.settle(open_sessions)
    m = Measure()
    cpu0, client0 = proctree.cpu_seconds(target.pid), _client_cpu()
    with proctree.TreeSampler(target.pid) as sampler:
        start = time.perf_counter()
        yield m
        m.wall = time.perf_counter() - start
    client1 = _client_cpu()
    target.settle(open_sessions)
    m.server_cpu = proctree.cpu_seconds(target.pid) - cpu0
    m.client_cpu = client1 - client0
    m.peak_rss_mib = sampler.peak_rss_kib / 1024
    m.peak_pss_mib = sampler.peak_pss_kib / 1024
    m.peak_processes = sampler.peak_processes


def _client_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _interleave(targets: list[Target], reps: int) -> Iterator[tuple[int, Target]]:
    """Each repetition runs every target; the order rotates so none always goes first."""
    for rep in range(reps):
        shift = rep % len(targets)
        for target in targets[shift:] + targets[:shift]:
            yield rep, target


def _each(targets: list[Target], step: Callable[[Target], None]) -> None:
    for target in targets:
        step(target)


def _summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# --- phases ---------------------------------------------------------------------------------


@dataclass
class Mail:
    big: bytes
    many: list[bytes]
    small: list[bytes]
    per_client: list[bytes]
    clients: int

    def users(self) -> dict[str, list[bytes]]:
        out = {"big": [self.big], "many": self.many, "small": self.small}
        out.update({f"c{n:03d}": self.per_client for n in range(self.clients)})
        return out


def warm_up(target: Target, mail: Mail) -> None:
    """First logins (Dovecot indexes each Maildir here) and one pass over the mail."""
    timings = {}
    for user, messages in mail.users().items():
        start = time.perf_counter()
        client = BenchClient(target.port)
        client.login(user, password_of(user))
        count = int(client.ok("STAT").split()[1])
        timings[user] = time.perf_counter() - start
        if count != len(messages):
            raise RuntimeError(f"{target.name}: {user} has {count} messages, not {len(messages)}")
        if user in ("big", "many"):
            client.ok("UIDL")
            client.drain_body()
            for number in range(1, count + 1):
                client.ok(f"RETR {number}")
                client.drain_body()
        client.ok("QUIT")
        client.close()
    target.results["first_login_stat_s"] = {
        "many": timings["many"],
        "small": timings["small"],
    }


def verify(targets: list[Target], mail: Mail) -> dict[str, Any]:
    """The same bytes from every server, and the bytes RFC 1939 asks for."""
    checks = {"big": [1], "many": sorted({1, 2, len(mail.many) // 2, len(mail.many)})}
    source = {"big": [mail.big], "many": mail.many}
    out: dict[str, Any] = {}
    for user, numbers in checks.items():
        for number in numbers:
            expected = wire_body(source[user][number - 1])
            got = {}
            for target in targets:
                client = BenchClient(target.port)
                client.login(user, password_of(user))
                client.ok(f"RETR {number}")
                got[target.name] = client.read_body()
                client.ok("QUIT")
                client.close()
            same = all(body == expected for body in got.values())
            out[f"{user} #{number}"] = {
                "octets": len(expected),
                "identical": same,
                **({} if same else {n: len(b) for n, b in got.items()}),
            }
            if not same:
                raise RuntimeError(f"bodies differ for {user} #{number}: {out}")
    return out


def bench_big(targets: list[Target], reps: int) -> None:
    runs: dict[str, list[tuple[int, Measure]]] = {t.name: [] for t in targets}
    clients = {}
    for target in targets:  # one session each, logged in before timing, as in bench.retr
        clients[target.name] = client = BenchClient(target.port)
        client.login("big", password_of("big"))
    for _rep, target in _interleave(targets, reps):
        client = clients[target.name]
        with measuring(target, open_sessions=len(targets)) as m:
            client.ok("RETR 1")
            octets = client.drain_body()
        runs[target.name].append((octets, m))
    for target in targets:
        clients[target.name].ok("QUIT")
        clients[target.name].close()
        measures = runs[target.name]
        mib = measures[0][0] / 2**20
        target.results["retr_big"] = {
            "MiB": mib,
            "reps": reps,
            "MiB/s": _summary([mib / m.wall for _o, m in measures]),
            "server_cpu_s": _summary([m.server_cpu for _o, m in measures]),
            "server_cpu_ms_per_MiB": statistics.median(
                m.server_cpu * 1000 / mib for _o, m in measures
            ),
            "client_cpu_s": statistics.median(m.client_cpu for _o, m in measures),
            "peak_rss_MiB": max(m.peak_rss_mib for _o, m in measures),
            "peak_pss_MiB": max(m.peak_pss_mib for _o, m in measures),
        }


def bench_many(targets: list[Target], count: int, reps: int) -> None:
    runs: dict[str, list[Measure]] = {t.name: [] for t in targets}
    for _rep, target in _interleave(targets, reps):
        with measuring(target) as m:
            client = BenchClient(target.port)
            client.login("many", password_of("many"))
            client.ok("UIDL")
            client.drain_body()
            for number in range(1, count + 1):
                client.ok(f"RETR {number}")
                client.drain_body()
            client.ok("QUIT")
            client.close()
        runs[target.name].append(m)
    for target in targets:
        measures = runs[target.name]
        target.results["mailbox_2000"] = {
            "messages": count,
            "reps": reps,
            "messages/s": _summary([count / m.wall for m in measures]),
            "seconds": _summary([m.wall for m in measures]),
            "server_cpu_us_per_msg": _summary([m.server_cpu * 1e6 / count for m in measures]),
            "client_cpu_us_per_msg": statistics.median(
                m.client_cpu * 1e6 / count for m in measures
            ),
            "peak_rss_MiB": max(m.peak_rss_mib for m in measures),
            "peak_pss_MiB": max(m.peak_pss_mib for m in measures),
        }


def bench_logins(targets: list[Target], user: str, logins: int, blocks: int, key: str) -> None:
    """``logins`` sequential logins per target, in ``blocks`` interleaved blocks."""
    per_block = max(1, logins // blocks)
    runs: dict[str, list[Measure]] = {t.name: [] for t in targets}
    for _rep, target in _interleave(targets, blocks):
        with measuring(target) as m:
            for _ in range(per_block):
                client = BenchClient(target.port)
                client.login(user, password_of(user))
                client.ok("STAT")
                client.ok("QUIT")
                client.close()
        runs[target.name].append(m)
    for target in targets:
        measures = runs[target.name]
        wall = sum(m.wall for m in measures)
        done = per_block * len(measures)
        target.results[key] = {
            "logins": done,
            "logins/s": done / wall,
            "logins/s per block": _summary([per_block / m.wall for m in measures]),
            "server_cpu_ms_per_login": sum(m.server_cpu for m in measures) * 1000 / done,
            "client_cpu_ms_per_login": sum(m.client_cpu for m in measures) * 1000 / done,
            "peak_rss_MiB": max(m.peak_rss_mib for m in measures),
        }


def _one_client(
    port: int, user: str, count: int, barrier: threading.Barrier, errors: list[BaseException]
) -> None:
    """One of the parallel clients: login, UIDL, RETR every message, QUIT."""
    try:
        barrier.wait()
        client = BenchClient(port)
        client.login(user, password_of(user))
        client.ok("UIDL")
        client.drain_body()
        for number in range(1, count + 1):
            client.ok(f"RETR {number}")
            client.drain_body()
        client.ok("QUIT")
        client.close()
    except BaseException as exc:  # reported after the join
        errors.append(exc)


def bench_concurrent(targets: list[Target], mail: Mail, reps: int) -> None:
    count = len(mail.per_client)
    runs: dict[str, list[Measure]] = {t.name: [] for t in targets}
    for _rep, target in _interleave(targets, reps):
        errors: list[BaseException] = []
        barrier = threading.Barrier(mail.clients + 1)
        threads = [
            threading.Thread(
                target=_one_client, args=(target.port, f"c{n:03d}", count, barrier, errors)
            )
            for n in range(mail.clients)
        ]
        for thread in threads:
            thread.start()
        with measuring(target) as m:
            barrier.wait()
            for thread in threads:
                thread.join()
        if errors:
            raise RuntimeError(f"{target.name}: {len(errors)} clients failed: {errors[0]!r}")
        runs[target.name].append(m)
    total = mail.clients * count
    for target in targets:
        measures = runs[target.name]
        target.results["concurrent"] = {
            "clients": mail.clients,
            "messages_each": count,
            "reps": reps,
            "messages/s": _summary([total / m.wall for m in measures]),
            "seconds": _summary([m.wall for m in measures]),
            "server_cpu_us_per_msg": _summary([m.server_cpu * 1e6 / total for m in measures]),
            "server_cpu_per_wall": statistics.median(m.server_cpu / m.wall for m in measures),
            "client_cpu_per_wall": statistics.median(m.client_cpu / m.wall for m in measures),
            "peak_rss_MiB": max(m.peak_rss_mib for m in measures),
            "peak_pss_MiB": max(m.peak_pss_mib for m in measures),
            "peak_processes": max(m.peak_processes for m in measures),
        }


def idle_memory(target: Target) -> None:
    target.settle()
    pids = proctree.tree_pids(target.pid)
    target.results["idle"] = {
        "rss_MiB": proctree.rss_sum_kib(pids) / 1024,
        "pss_MiB": proctree.pss_sum_kib(pids) / 1024,
        "processes": proctree.process_names(pids),
    }


# --- setup ----------------------------------------------------------------------------------


def password_of(user: str) -> str:
    return f"pw-{user}-{PASSWORD}"


def pop3srv_source(root: Path, tree: str) -> tuple[str, str]:
    """Makes the servers import pop3srv from a snapshot of HEAD (``tree == "head"``: the
    results belong to one commit even while the work tree changes) or from the work tree.
    The servers inherit PYTHONPATH from this process's environment. Returns (where pop3srv is
    imported from, the commit)."""
    repo = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if tree == "head":
        snapshot = root / "pop3srv-src"
        snapshot.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", commit, "pop3srv"], cwd=repo, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(snapshot)], input=archive, check=True)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(snapshot), os.environ.get("PYTHONPATH")])
        )
    where = subprocess.run(
        [sys.executable, "-c", "import pop3srv; print(pop3srv.__file__)"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return where, commit


def start_pop3srv(
    stack: ExitStack, root: Path, mail: Mail, name: str = "pop3srv", launcher: Any = pop3srv_server
) -> Target:
    state, mail_dir = root / "state", root / "mail"
    state.mkdir(parents=True)
    for user, messages in mail.users().items():
        write_folder(mail_dir / user, messages)
    users = mail.users()
    config = {  # ./config.yaml in the server's working directory (JSON is YAML)
        "mailboxes": {user: {"folder": user} for user in users},
        "users": {user: {"password": password_of(user), "mailbox": user} for user in users},
    }
    (state / "config.yaml").write_text(json.dumps(config))
    pid, port = stack.enter_context(launcher(mail_dir, state))
    return Target(name, pid, port)


def start_dovecot(stack: ExitStack, root: Path, mail: Mail, profile: str) -> Target:
    users = mail.users()
    instance = dovecot_instance.Dovecot(root, {u: password_of(u) for u in users}, profile)
    for user, messages in users.items():
        dovecot_instance.write_maildir(instance.maildir(user), messages, BASE_TIME)
    pid, port = stack.enter_context(instance.run())
    name = "dovecot" if profile == "default" else f"dovecot-{profile}"
    return Target(name, pid, port, keeps_login_processes=profile == "performance")


def versions() -> dict[str, str]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, cwd=Path(__file__).parent, check=False
            ).stdout.strip()
        except OSError:
            return "?"

    return {
        "dovecot": dovecot_instance.version(),
        "python": platform.python_version(),
        "pop3srv_commit": run("git", "rev-parse", "--short", "HEAD"),
        "pop3srv_modified_files": run(
            "git", "status", "--porcelain", "--untracked-files=no", "--", "../pop3srv"
        ).replace("\n", ", "),
        "kernel": platform.release(),
        "cpus": str(os.cpu_count()),
        "loadavg_at_start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "host": socket.gethostname(),
    }


# --- report ---------------------------------------------------------------------------------


def _rows(targets: list[Target]) -> list[tuple[str, Callable[[dict[str, Any]], str]]]:
    def med(key: str, sub: str, fmt: str = "{:.0f}") -> Callable[[dict[str, Any]], str]:
        def cell(r: dict[str, Any]) -> str:
            s = r[key][sub]
            return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}-{fmt.format(s['max'])})"

        return cell

    def val(key: str, sub: str, fmt: str = "{:.1f}") -> Callable[[dict[str, Any]], str]:
        return lambda r: fmt.format(r[key][sub])

    big = targets[0].results["retr_big"]
    many = targets[0].results["mailbox_2000"]["messages"]
    conc = targets[0].results["concurrent"]
    n = conc["clients"] * conc["messages_each"]
    mib = f"{big['MiB']:.0f} MiB"
    return [
        (f"RETR {mib}: MiB/s, median (min-max) of {big['reps']}", med("retr_big", "MiB/s")),
        (f"RETR {mib}: server CPU ms per MiB", val("retr_big", "server_cpu_ms_per_MiB")),
        (f"RETR {mib}: peak server RSS, MiB (sum of processes)", val("retr_big", "peak_rss_MiB")),
        (
            f"{many:,} msgs, one session (UIDL + RETR all): messages/s",
            med("mailbox_2000", "messages/s"),
        ),
        (f"{many:,} msgs: server CPU µs per message", med("mailbox_2000", "server_cpu_us_per_msg")),
        (f"{many:,} msgs: peak server RSS, MiB", val("mailbox_2000", "peak_rss_MiB")),
        (
            "logins/s (USER, PASS, STAT, QUIT; 10-msg mailbox)",
            val("logins_small", "logins/s", "{:.0f}"),
        ),
        ("  server CPU ms per login", val("logins_small", "server_cpu_ms_per_login", "{:.2f}")),
        (f"logins/s on the {many:,}-msg mailbox", val("logins_many", "logins/s", "{:.0f}")),
        ("  server CPU ms per login", val("logins_many", "server_cpu_ms_per_login", "{:.2f}")),
        (
            f"first (cold) login + STAT, {many:,}-msg mailbox, ms",
            lambda r: f"{r['first_login_stat_s']['many'] * 1000:.0f}",
        ),
        (
            f"{conc['clients']} parallel clients x {conc['messages_each']} msgs ({n}): messages/s",
            med("concurrent", "messages/s"),
        ),
        ("  server CPU µs per message", med("concurrent", "server_cpu_us_per_msg")),
        (
            "  server CPU / wall time (cores busy)",
            val("concurrent", "server_cpu_per_wall", "{:.2f}"),
        ),
        ("  client CPU / wall time", val("concurrent", "client_cpu_per_wall", "{:.2f}")),
        (
            "  peak server RSS sum / PSS sum, MiB",
            lambda r: (
                f"{r['concurrent']['peak_rss_MiB']:.0f} / {r['concurrent']['peak_pss_MiB']:.0f}"
            ),
        ),
        ("  peak server processes", val("concurrent", "peak_processes", "{:d}")),
        (
            "idle server RSS sum / PSS sum, MiB",
            lambda r: f"{r['idle']['rss_MiB']:.0f} / {r['idle']['pss_MiB']:.0f}",
        ),
    ]


def markdown(targets: list[Target]) -> str:
    lines = [
        "| what | " + " | ".join(t.name for t in targets) + " |",
        "| --- | " + " | ".join("---" for _ in targets) + " |",
    ]
    for label, cell in _rows(targets):
        lines.append(f"| {label} | " + " | ".join(cell(t.results) for t in targets) + " |")
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mib", type=int, default=40)
    parser.add_argument("--big-reps", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--many-reps", type=int, default=3)
    parser.add_argument("--logins", type=int, default=500)
    parser.add_argument("--logins-many", type=int, default=100, help="logins on the big mailbox")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--client-messages", type=int, default=50)
    parser.add_argument("--concurrent-reps", type=int, default=3)
    parser.add_argument(
        "--targets",
        default="pop3srv,dovecot,dovecot-performance",
        help="comma-separated: pop3srv, dovecot, dovecot-performance, pop3srv-experiment, "
        "pop3srv-experiment=PATCH+PATCH",
    )
    parser.add_argument(
        "--pop3srv-tree",
        choices=("head", "worktree"),
        default="head",
        help="serve pop3srv from a snapshot of HEAD (default) or from the work tree as it is",
    )
    parser.add_argument(
        "--experiment-patches",
        default=",".join(pop3srv_experiment.PATCHES),
        help="for the pop3srv-experiment target (see bench/pop3srv_experiment.py)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.big_mib, args.big_reps, args.messages, args.many_reps = 4, 2, 200, 1
        args.logins, args.logins_many, args.clients, args.concurrent_reps = 40, 10, 8, 1

    mail = Mail(
        big=big_message(args.big_mib),
        many=[small_message(i) for i in range(args.messages)],
        small=[small_message(i) for i in range(10)],
        per_client=[small_message(i) for i in range(args.client_messages)],
        clients=args.clients,
    )
    info = versions()
    print(f"versions: {info}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="pop3-vs-dovecot-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        info["pop3srv_tree"] = args.pop3srv_tree
        info["pop3srv_imported_from"], info["pop3srv_commit"] = pop3srv_source(
            root, args.pop3srv_tree
        )
        print(f"pop3srv from {info['pop3srv_imported_from']}", file=sys.stderr)
        targets: list[Target] = []
        for name in args.targets.split(","):
            if name == "pop3srv":
                targets.append(start_pop3srv(stack, root / "pop3srv", mail))
            elif name.startswith("pop3srv-experiment"):
                # pop3srv-experiment (--experiment-patches) or pop3srv-experiment=encoder+coalesce
                patches = name.partition("=")[2].replace("+", ",") or args.experiment_patches
                os.environ["POP3SRV_EXPERIMENT"] = patches  # read by the server at start-up
                label = "pop3srv+" + patches.replace(",", "+")
                info[f"{label} patches"] = patches
                targets.append(
                    start_pop3srv(stack, root / label, mail, label, pop3srv_experiment.server)
                )
            elif name.startswith("dovecot"):
                profile = name.removeprefix("dovecot").removeprefix("-") or "default"
                targets.append(start_dovecot(stack, root / name, mail, profile))
            else:
                parser.error(f"unknown target {name}")
        steps: list[tuple[str, Callable[[], object]]] = [
            ("warm-up", lambda: _each(targets, lambda t: warm_up(t, mail))),
            ("idle memory", lambda: _each(targets, idle_memory)),
            ("verify", lambda: verify(targets, mail)),
            ("RETR big", lambda: bench_big(targets, args.big_reps)),
            ("mailbox", lambda: bench_many(targets, args.messages, args.many_reps)),
            ("logins", lambda: bench_logins(targets, "small", args.logins, 5, "logins_small")),
            (
                "logins, big mailbox",
                lambda: bench_logins(targets, "many", args.logins_many, 5, "logins_many"),
            ),
            ("concurrent", lambda: bench_concurrent(targets, mail, args.concurrent_reps)),
        ]
        checked: object = None
        for label, step in steps:
            started = time.perf_counter()
            value = step()
            if label == "verify":
                checked = value
            print(f"{label}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        info["loadavg_at_end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        report = {
            "versions": info,
            "byte_exact": checked,
            "results": {t.name: t.results for t in targets},
        }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")
    print()
    print(markdown(targets))


if __name__ == "__main__":
    main()
