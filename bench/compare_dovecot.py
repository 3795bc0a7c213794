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

This module owns the command line and the order of the run; the parts live in
``bench.compare_mail`` (the messages and mailboxes), ``bench.compare_client`` (the client),
``bench.compare_measure`` (targets and measuring), ``bench.compare_servers`` (starting the
servers, versions), ``bench.compare_workloads`` (the phases) and ``bench.compare_report``
(the Markdown table).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.compare_mail import Mail, big_message, small_message
from bench.compare_measure import Target
from bench.compare_report import markdown
from bench.compare_servers import pop3srv_source, start_dovecot, start_pop3srv, versions
from bench.compare_workloads import (
    bench_big,
    bench_concurrent,
    bench_logins,
    bench_many,
    idle_memory,
    verify,
    warm_up,
)


def parse_args() -> tuple[argparse.ArgumentParser, argparse.Namespace]:
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
        help="comma-separated: pop3srv, dovecot, dovecot-performance",
    )
    parser.add_argument(
        "--pop3srv-tree",
        choices=("head", "worktree"),
        default="head",
        help="serve pop3srv from a snapshot of HEAD (default) or from the work tree as it is",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.big_mib, args.big_reps, args.messages, args.many_reps = 4, 2, 200, 1
        args.logins, args.logins_many, args.clients, args.concurrent_reps = 40, 10, 8, 1
    return parser, args


def make_mail(args: argparse.Namespace) -> Mail:
    return Mail(
        big=big_message(args.big_mib),
        many=[small_message(i) for i in range(args.messages)],
        small=[small_message(i) for i in range(10)],
        per_client=[small_message(i) for i in range(args.client_messages)],
        clients=args.clients,
    )


def start_targets(
    stack: ExitStack,
    root: Path,
    mail: Mail,
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
) -> list[Target]:
    """Starts the servers of ``--targets`` in that order."""
    targets: list[Target] = []
    for name in args.targets.split(","):
        if name == "pop3srv":
            targets.append(start_pop3srv(stack, root / "pop3srv", mail))
        elif name.startswith("dovecot"):
            profile = name.removeprefix("dovecot").removeprefix("-") or "default"
            targets.append(start_dovecot(stack, root / name, mail, profile))
        else:
            parser.error(f"unknown target {name}")
    return targets


def _each(targets: list[Target], step: Callable[[Target], None]) -> None:
    for target in targets:
        step(target)


def run_phases(targets: list[Target], mail: Mail, args: argparse.Namespace) -> object:
    """Runs every phase, timing each on stderr; returns what ``verify`` found."""
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
    return checked


def main() -> None:
    parser, args = parse_args()
    mail = make_mail(args)
    info = versions()
    print(f"versions: {info}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="pop3-vs-dovecot-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        info["pop3srv_tree"] = args.pop3srv_tree
        info["pop3srv_imported_from"], info["pop3srv_commit"] = pop3srv_source(
            root, args.pop3srv_tree
        )
        print(f"pop3srv from {info['pop3srv_imported_from']}", file=sys.stderr)
        targets = start_targets(stack, root, mail, args, parser)
        checked = run_phases(targets, mail, args)
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
