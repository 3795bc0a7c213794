"""The workloads of ``bench.compare_dovecot``, run against every target in turn: the warm-up
(first logins, one pass over the mail), the byte-exactness check, RETR of one big message, one
session over a big mailbox, sequential logins, parallel clients, and the idle memory. Each
stores its figures in ``Target.results`` under the key the report reads.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from bench import proctree
from bench.compare_client import BenchClient, read_mailbox
from bench.compare_mail import Mail, password_of, wire_body
from bench.compare_measure import Measure, Target, interleave, measuring, summary


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
    for _rep, target in interleave(targets, reps):
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
            "MiB/s": summary([mib / m.wall for _o, m in measures]),
            "server_cpu_s": summary([m.server_cpu for _o, m in measures]),
            "server_cpu_ms_per_MiB": statistics.median(
                m.server_cpu * 1000 / mib for _o, m in measures
            ),
            "client_cpu_s": statistics.median(m.client_cpu for _o, m in measures),
            "peak_rss_MiB": max(m.peak_rss_mib for _o, m in measures),
            "peak_pss_MiB": max(m.peak_pss_mib for _o, m in measures),
        }


def bench_many(targets: list[Target], count: int, reps: int) -> None:
    runs: dict[str, list[Measure]] = {t.name: [] for t in targets}
    for _rep, target in interleave(targets, reps):
        with measuring(target) as m:
            read_mailbox(target.port, "many", count)
        runs[target.name].append(m)
    for target in targets:
        measures = runs[target.name]
        target.results["mailbox_2000"] = {
            "messages": count,
            "reps": reps,
            "messages/s": summary([count / m.wall for m in measures]),
            "seconds": summary([m.wall for m in measures]),
            "server_cpu_us_per_msg": summary([m.server_cpu * 1e6 / count for m in measures]),
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
    for _rep, target in interleave(targets, blocks):
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
            "logins/s per block": summary([per_block / m.wall for m in measures]),
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
        read_mailbox(port, user, count)
    except BaseException as exc:  # reported after the join
        errors.append(exc)


def bench_concurrent(targets: list[Target], mail: Mail, reps: int) -> None:
    count = len(mail.per_client)
    runs: dict[str, list[Measure]] = {t.name: [] for t in targets}
    for _rep, target in interleave(targets, reps):
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
            "messages/s": summary([total / m.wall for m in measures]),
            "seconds": summary([m.wall for m in measures]),
            "server_cpu_us_per_msg": summary([m.server_cpu * 1e6 / total for m in measures]),
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
