"""Where pop3srv's CPU goes in the workloads of ``bench.compare_dovecot``: py-spy samples the
running server (``py-spy record --format raw``, all threads, idle samples dropped) during each
workload, and the collapsed stacks are summarised as the functions with the most samples on top
of the stack ("self") and anywhere on it ("total"). Needs ``py-spy`` in the venv
(``.venv/bin/pip install py-spy``) and ptrace rights (root here). pop3srv is imported from a
snapshot of HEAD, as in ``bench.compare_dovecot``.

    .venv/bin/python -m bench.profile_pop3srv [--out-dir /tmp/pop3srv-profile] [--top 25]

The samples of a Python profiler cost the server some speed; the numbers of
``bench.compare_dovecot`` are taken without it.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.compare_client import BenchClient
from bench.compare_mail import Mail, big_message, password_of, small_message
from bench.compare_servers import pop3srv_source, start_pop3srv
from bench.compare_workloads import warm_up

PY_SPY = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy"


def record(pid: int, out: Path, work: Callable[[], None], rate: int, gil: bool = False) -> None:
    """py-spy ``pid`` while ``work`` runs; ``gil``: only samples holding the GIL (Python
    running on a CPU: leaves out system calls and waits for a core)."""
    spy = subprocess.Popen(
        [
            PY_SPY,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--output",
            str(out),
            "--threads",
            *(["--gil"] if gil else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # attached
    if spy.poll() is not None:
        raise RuntimeError(f"py-spy failed: {spy.stderr.read().decode() if spy.stderr else ''}")
    work()
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)


def summarise(path: Path, top: int) -> str:
    """Self and total sample counts per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        names = [_short(f) for f in frames]
        own[names[-1]] += count
        for name in set(names):
            total[name] += count
    out = [f"{samples} samples (non-idle)", "", "self:"]
    out += [f"  {n * 100 / samples:5.1f}%  {name}" for name, n in own.most_common(top)]
    out += ["", "total (inclusive):"]
    out += [f"  {n * 100 / samples:5.1f}%  {name}" for name, n in total.most_common(top)]
    return "\n".join(out)


def _short(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)"
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = file.split("/")
    if "site-packages" in parts:
        file = "/".join(parts[parts.index("site-packages") + 1 :][:2])
    elif "pop3srv" in parts:
        file = "/".join(parts[parts.index("pop3srv") :])
    else:
        file = parts[-1]
    return f"{name} ({file})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/pop3srv-profile"))
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=250)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    mail = Mail(
        big=big_message(40),
        many=[small_message(i) for i in range(2000)],
        small=[small_message(i) for i in range(10)],
        per_client=[small_message(i) for i in range(50)],
        clients=0,
    )

    def big() -> None:
        client = BenchClient(target.port)
        client.login("big", password_of("big"))
        for _ in range(5):
            client.ok("RETR 1")
            client.drain_body()
        client.ok("QUIT")

    def many() -> None:
        for _ in range(2):
            client = BenchClient(target.port)
            client.login("many", password_of("many"))
            client.ok("UIDL")
            client.drain_body()
            for number in range(1, 2001):
                client.ok(f"RETR {number}")
                client.drain_body()
            client.ok("QUIT")

    def logins_many() -> None:
        for _ in range(100):
            client = BenchClient(target.port)
            client.login("many", password_of("many"))
            client.ok("STAT")
            client.ok("QUIT")
            client.close()

    def logins() -> None:
        for _ in range(500):
            client = BenchClient(target.port)
            client.login("small", password_of("small"))
            client.ok("STAT")
            client.ok("QUIT")
            client.close()

    with tempfile.TemporaryDirectory(prefix="pop3srv-profile-") as tmp, ExitStack() as stack:
        where, commit = pop3srv_source(Path(tmp), "head")
        print(f"pop3srv {commit} from {where}", file=sys.stderr)
        target = start_pop3srv(stack, Path(tmp) / "pop3srv", mail)
        warm_up(target, mail)
        workloads = (
            ("retr_big", big),
            ("mailbox_2000", many),
            ("logins", logins),
            ("logins_2000", logins_many),
        )
        for name, work in workloads:
            raw = args.out_dir / f"{name}.txt"
            record(target.pid, raw, work, args.rate)
            summary = summarise(raw, args.top)
            (args.out_dir / f"{name}.summary.txt").write_text(summary + "\n")
            print(f"## {name}\n\n{summary}\n")


if __name__ == "__main__":
    main()
