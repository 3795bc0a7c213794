"""Measuring for ``bench.compare_dovecot``: a running server under test (``Target``, which also
collects its results), what one timed run observed (``Measure``: wall time, the CPU time of the
server's process tree and of this client, peak RSS/PSS and process count, from /proc via
``bench.proctree``), the order in which targets take turns, and the summary of repeated runs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import proctree


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


def interleave(targets: list[Target], reps: int) -> Iterator[tuple[int, Target]]:
    """Each repetition runs every target; the order rotates so none always goes first."""
    for rep in range(reps):
        shift = rep % len(targets)
        for target in targets[shift:] + targets[:shift]:
            yield rep, target


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}
