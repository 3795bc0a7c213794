"""Benchmark: server CPU per message of the folder store next to Dovecot, with enough work per
measurement that CPU ticks (10 ms) and single noisy runs do not decide the result.

``bench.compare_dovecot``'s parallel phase retrieves 1,600 messages: one tick is then 6 µs per
message, and single runs on the shared machine moved by 20-40 %. This runs the same workload
(8 clients, each on its own 200-message mailbox: login, UIDL, RETR all, QUIT; the same client
code) ``--rounds`` times per measurement, with every server started once and measured in
turn, ``--reps`` times, and prints the median server CPU per message of each.

    .venv/bin/python -m bench.folder_cpu [--rounds 6] [--reps 5] [--base-src DIR] [--src DIR]

``--base-src DIR`` also serves pop3srv from another source tree (e.g. ``git archive BASE |
tar -x -C DIR``) as ``pop3srv-base``, for before/after in the same run. The parts are
``bench.compare_servers`` (servers), ``bench.compare_workloads`` (the client session) and
``bench.compare_measure`` (CPU of the server's process tree).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path

from bench.compare_mail import Mail, small_message
from bench.compare_measure import Target, measuring
from bench.compare_servers import start_dovecot, start_pop3srv
from bench.compare_workloads import _one_client
from bench.profile_pop3srv import record

CLIENTS = 8
MESSAGES = 200


def _round(target: Target) -> None:
    barrier = threading.Barrier(CLIENTS + 1)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=_one_client, args=(target.port, f"c{n:03d}", MESSAGES, barrier, errors)
        )
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{target.name}: {errors[0]!r}")


def _rounds(target: Target, rounds: int) -> None:
    for _ in range(rounds):
        _round(target)


def _start(
    stack: ExitStack, root: Path, mail: Mail, base: Path | None, src: Path | None = None
) -> list[Target]:
    targets = []
    here = str(src or Path(__file__).resolve().parent.parent)
    sources = [("pop3srv-base", str(base))] if base else []
    for name, source in [*sources, ("pop3srv", here)]:
        os.environ["PYTHONPATH"] = source  # the server subprocess imports pop3srv from here
        target = start_pop3srv(stack, root / name, mail)
        target.name = name
        targets.append(target)
    for profile in ("default", "performance"):
        targets.append(start_dovecot(stack, root / f"dovecot-{profile}", mail, profile))
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="8 x 200 messages each")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--base-src", type=Path, help="also serve pop3srv from this tree")
    parser.add_argument("--src", type=Path, help="serve 'pop3srv' from this tree (default: here)")
    parser.add_argument("--no-dovecot", action="store_true", help="pop3srv only")
    parser.add_argument("--rate", type=int, default=200, help="--profile: samples per second")
    parser.add_argument(
        "--profile", type=Path, help="py-spy (--gil) pop3srv during --rounds; raw stacks here"
    )
    args = parser.parse_args()
    per_client = [small_message(i) for i in range(MESSAGES)]
    small = [small_message(i) for i in range(10)]
    mail = Mail(big=b"x\r\n", many=small, small=small, per_client=per_client, clients=CLIENTS)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="folder-cpu-") as tmp, ExitStack() as stack:
        targets = _start(stack, Path(tmp), mail, args.base_src, args.src)
        if args.no_dovecot or args.profile:
            targets = [t for t in targets if not t.name.startswith("dovecot")]
        if args.profile:
            target = targets[-1]
            _round(target)
            work = lambda: _rounds(target, args.rounds)  # noqa: E731
            record(target.pid, args.profile, work, args.rate, gil=True)
            return
        for target in targets:  # warm-up: Dovecot builds its indexes, files in the page cache
            _round(target)
            _round(target)
        for rep in range(args.reps):
            for target in targets:
                with measuring(target) as m:
                    for _ in range(args.rounds):
                        _round(target)
                per_message = m.server_cpu * 1e6 / (args.rounds * CLIENTS * MESSAGES)
                results.setdefault(target.name, []).append(per_message)
            load = Path("/proc/loadavg").read_text().split()[0]
            line = "  ".join(f"{name} {values[-1]:.0f}" for name, values in results.items())
            print(f"rep {rep}: {line}  (load {load})", flush=True)
    print("server CPU µs per message, median (min-max):")
    for name, values in results.items():
        print(f"  {name}: {statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})")


if __name__ == "__main__":
    main()
