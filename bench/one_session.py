"""Benchmark: server CPU per message of ONE client reading a big local-folder mailbox in one
session, pop3srv next to Dovecot (and, with ``--base-src``, next to another pop3srv tree).

``bench.compare_dovecot``'s one-session phase, focused and repeated: every server is started
once over the same 2,000 messages of ~1.5 KiB (pop3srv: a mail folder; Dovecot: a Maildir),
then each workload runs ``--reps`` times per server, the servers taking turns, and the median
server CPU (utime + stime of the server's process tree from /proc) per message is printed with
the load average next to each repetition. Workloads (``--workloads``, comma-separated):

- ``lockstep``: login, UIDL, then ``RETR n`` + ``DELE n`` for every message, each command sent
  after the previous reply was read (what most clients do), then RSET and QUIT (so nothing is
  deleted and the mailbox stays the same between repetitions);
- ``poplib``: the same session through the standard library's ``poplib`` (``uidl``, ``retr``,
  ``dele``, ``rset``, ``quit``);
- ``retr``: compare_dovecot's phase: UIDL, then RETR of every message, QUIT;
- ``pipelined``: an RFC 2449 PIPELINING client: a thread writes all ``RETR n`` / ``DELE n``
  commands at once while the replies are read, then RSET and QUIT.

    .venv/bin/python -m bench.one_session [--messages 2000] [--reps 5]
        [--workloads lockstep,poplib,pipelined] [--base-src DIR] [--src DIR] [--no-dovecot]
        [--pin none|same|split] [--profile FILE --rate 1000]

``--pin``: on this 2-core VM a measurement lands in one of two modes, client and server on
the same CPU or on different ones (then every command is a wake-up across CPUs: ~2x the CPU,
mostly in the kernel); pinning makes every measurement the same mode.

``--profile FILE``: py-spy (``--gil``) the pop3srv of ``--src`` while it serves ``--reps``
sessions of the first workload; raw stacks to FILE (``bench.profile_pop3srv.summarise`` reads
them). The parts are ``bench.compare_servers`` (servers), ``bench.compare_client`` (the client)
and ``bench.compare_measure`` (CPU of a process tree).
"""

from __future__ import annotations

import argparse
import os
import poplib
import statistics
import tempfile
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench import proctree
from bench.compare_client import BenchClient, read_mailbox
from bench.compare_mail import Mail, password_of, small_message
from bench.compare_measure import Target, measuring
from bench.compare_servers import start_dovecot, start_pop3srv
from bench.profile_pop3srv import record, summarise

USER = "many"


def lockstep(port: int, count: int) -> None:
    read_mailbox(port, USER, count, delete=True)


def retr_only(port: int, count: int) -> None:
    read_mailbox(port, USER, count)


def with_poplib(port: int, count: int) -> None:
    client = poplib.POP3("127.0.0.1", port, timeout=300)
    client.user(USER)
    client.pass_(password_of(USER))
    uids = client.uidl()[1]
    if len(uids) != count:
        raise RuntimeError(f"UIDL listed {len(uids)} messages, not {count}")
    for number in range(1, count + 1):
        client.retr(number)
        client.dele(number)
    client.rset()
    client.quit()


def pipelined(port: int, count: int) -> None:
    """All RETR/DELE commands written at once by a thread; the replies read meanwhile."""
    client = BenchClient(port)
    client.login(USER, password_of(USER))
    if b"PIPELINING" not in client.command("CAPA") + _rest_of_multiline(client):
        raise RuntimeError("the server does not announce PIPELINING")
    commands = b"".join(b"RETR %d\r\nDELE %d\r\n" % (n, n) for n in range(1, count + 1))
    writer = threading.Thread(target=client.sock.sendall, args=(commands,))
    writer.start()
    for number in range(1, count + 1):
        status = client.reader.readline()
        if not status.startswith(b"+OK"):
            raise RuntimeError(f"RETR {number}: {status!r}")
        _rest_of_multiline(client)  # by lines: the next replies may follow in the same read
        status = client.reader.readline()
        if not status.startswith(b"+OK"):
            raise RuntimeError(f"DELE {number}: {status!r}")
    writer.join()
    client.ok("RSET")
    client.ok("QUIT")
    client.close()


def _rest_of_multiline(client: BenchClient) -> bytes:
    lines = []
    while (line := client.reader.readline()) not in (b".\r\n", b""):
        lines.append(line)
    return b"".join(lines)


WORKLOADS: dict[str, Callable[[int, int], None]] = {
    "lockstep": lockstep,
    "poplib": with_poplib,
    "retr": retr_only,
    "pipelined": pipelined,
}


def _pin(targets: list[Target], *, client_cpu: int, server_cpu: int) -> None:
    """Every thread of this process on ``client_cpu``; every thread of every server process on
    ``server_cpu`` (processes they fork later inherit it): wake-ups across CPUs, or not, in
    every measurement, instead of wherever the scheduler puts them."""
    for task in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(task), {client_cpu})
    for target in targets:
        for pid in proctree.tree_pids(target.pid):
            for task in os.listdir(f"/proc/{pid}/task"):
                os.sched_setaffinity(int(task), {server_cpu})


def _system_seconds(pid: int) -> float:
    """The system (kernel) CPU time of one process, from /proc."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rindex(")") + 2 :].split()[12]) / os.sysconf("SC_CLK_TCK")


def _start(stack: ExitStack, root: Path, mail: Mail, args: argparse.Namespace) -> list[Target]:
    here = str(args.src or Path(__file__).resolve().parent.parent)
    sources = [("pop3srv-base", str(args.base_src))] if args.base_src else []
    targets = []
    for name, source in [*sources, ("pop3srv", here)]:
        os.environ["PYTHONPATH"] = source  # the server subprocess imports pop3srv from here
        target = start_pop3srv(stack, root / name, mail)
        target.name = name
        targets.append(target)
    if not args.no_dovecot and not args.profile:
        targets.append(start_dovecot(stack, root / "dovecot", mail, "default"))
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workloads", default="lockstep,poplib,pipelined")
    parser.add_argument("--base-src", type=Path, help="also serve pop3srv from this tree")
    parser.add_argument("--src", type=Path, help="serve 'pop3srv' from this tree (default: here)")
    parser.add_argument("--no-dovecot", action="store_true")
    parser.add_argument(
        "--pin",
        choices=("none", "same", "split"),
        default="none",
        help="CPU affinity: servers and client on CPU 1 (same), or client 0 / servers 1 (split)",
    )
    parser.add_argument("--profile", type=Path, help="py-spy --gil the pop3srv of --src")
    parser.add_argument("--rate", type=int, default=1000, help="--profile: samples per second")
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    for name in workloads:
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name} (known: {', '.join(WORKLOADS)})")
    many = [small_message(i) for i in range(args.messages)]
    mail = Mail(big=b"x\r\n", many=many, small=many[:1], per_client=[], clients=0)
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="one-session-") as tmp, ExitStack() as stack:
        targets = _start(stack, Path(tmp), mail, args)
        if args.pin != "none":
            _pin(targets, client_cpu=1 if args.pin == "same" else 0, server_cpu=1)
        for target in targets:  # warm-up: Dovecot's index, page cache, pop3srv's size cache
            WORKLOADS["retr"](target.port, args.messages)
        if args.profile:
            target, work = targets[-1], WORKLOADS[workloads[0]]

            def sessions() -> None:
                for _ in range(args.reps):
                    work(target.port, args.messages)

            record(target.pid, args.profile, sessions, args.rate, gil=True)
            print(summarise(args.profile, 40))
            return
        for rep in range(args.reps):
            shift = rep % len(targets)
            for workload in workloads:
                line = []
                for target in targets[shift:] + targets[:shift]:
                    system = _system_seconds(target.pid)
                    with measuring(target) as m:
                        WORKLOADS[workload](target.port, args.messages)
                    per_message = m.server_cpu * 1e6 / args.messages
                    results.setdefault((workload, target.name), []).append(per_message)
                    share = ""
                    if target.name.startswith("pop3srv"):  # one process: its own split
                        system = _system_seconds(target.pid) - system
                        share = f" (sys {system * 1e6 / args.messages:.0f})"
                    line.append(f"{target.name} {per_message:.0f}{share}")
                load = Path("/proc/loadavg").read_text().split()[0]
                print(f"rep {rep} {workload}: {'  '.join(line)}  (load {load})", flush=True)
    _report(results, workloads, [target.name for target in targets])


def _report(
    results: dict[tuple[str, str], list[float]], workloads: list[str], names: list[str]
) -> None:
    print("server CPU µs per message, median (min-max); median of the ratios within a rep:")
    for workload in workloads:
        for name in names:
            values = results[(workload, name)]
            median, low, high = statistics.median(values), min(values), max(values)
            row = f"  {workload:9} {name:13} {median:4.0f} ({low:.0f}-{high:.0f})"
            for other in ("pop3srv-base", "dovecot"):
                if other in names and other != name:
                    ratios = map(_ratio, values, results[(workload, other)])
                    row += f"  /{other} {statistics.median(ratios):.2f}"
            print(row)


def _ratio(value: float, other: float) -> float:
    return value / other if other else float("inf")


if __name__ == "__main__":
    main()
