"""Process-tree accounting from /proc: which processes belong to a server, their summed RSS
and PSS, and the CPU time they (and their reaped children) have used.

A server here is a root process and all its descendants: pop3srv is one process (its worker
threads are counted in it); Dovecot is its master plus log, config, anvil, auth, stats and the
short-lived pop3-login and pop3 processes. Processes that have exited are not lost from the CPU
count: their parent (the Dovecot master) collects their time in ``cutime``/``cstime`` when it
reaps them, so ``utime + stime + cutime + cstime`` summed over the live tree covers them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from bench.retr import rss_kib

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name may hold spaces and parentheses: split after the last ')'
    return text[text.rindex(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """``root`` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def process_names(pids: list[int]) -> dict[str, int]:
    """How many processes of each command name."""
    names: dict[str, int] = {}
    for pid in pids:
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue
        names[name] = names.get(name, 0) + 1
    return names


def cpu_seconds(root: int) -> float:
    """User + system CPU of the tree, exited-and-reaped children included."""
    ticks = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is not None:  # utime stime cutime cstime are fields 14-17 (index 11-14 here)
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def rss_sum_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, RuntimeError):
            total += rss_kib(pid)  # fails if it exited, or for a zombie (no VmRSS)
    return total


def pss_sum_kib(pids: list[int]) -> int:
    """Proportional set size: shared pages (libraries, the Dovecot binaries) split between the
    processes mapping them, so the sum is what the tree really occupies."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


class TreeSampler:
    """Peak summed RSS (every ~10 ms), peak summed PSS (every ~250 ms) and peak process count
    of a process tree, sampled in a thread while a phase runs."""

    def __init__(self, root: int, interval: float = 0.01) -> None:
        self.root, self.interval = root, interval
        self.peak_rss_kib = self.peak_pss_kib = self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._sample(time.monotonic(), force_pss=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        self._pids = tree_pids(self.root)
        self._pids_at = self._pss_at = time.monotonic()
        while not self._stop.wait(self.interval):
            self._sample(time.monotonic())

    def _sample(self, now: float, force_pss: bool = False) -> None:
        if force_pss or now - getattr(self, "_pids_at", 0.0) >= 0.05:
            self._pids, self._pids_at = tree_pids(self.root), now
        self.peak_processes = max(self.peak_processes, len(self._pids))
        self.peak_rss_kib = max(self.peak_rss_kib, rss_sum_kib(self._pids))
        if force_pss or now - getattr(self, "_pss_at", 0.0) >= 0.25:
            self._pss_at = now
            self.peak_pss_kib = max(self.peak_pss_kib, pss_sum_kib(self._pids))
