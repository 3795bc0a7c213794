"""Repeats of a failure line counted, not written: one window per key and ``window`` seconds.

``RepeatWindows`` admits the first line of a key in its window and counts the rest, reporting
them in one ``repeated N more times`` line when the window ends (``flush``, ``run``), when the
table passes ``max_keys`` (oldest first) or at shutdown (``flush_all``). Refusals and TLS
failures are keyed by address (``_address``): an IPv6 client by its group while its network
has fewer than ``NETWORK_SHARE`` windows, and at most ``MAX_REASONS`` reasons per address.
``failures.FailureLog`` writes the lines themselves.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import trio

from pop3srv.logsetup import FieldValue, event
from pop3srv.netaddr import NETWORK_SHARE, client_group, client_network

WINDOW = 60.0
#: reasons with a window of their own per address (a client picks its TLS alert code: 31 of
#: them); further reasons of that address share one window, reason ``various``
MAX_REASONS = 4


class RepeatWindows:
    """The windows of one process's failure lines; ``logger`` writes their ``repeated`` lines."""

    logger: logging.Logger

    def __init__(
        self,
        window: float = WINDOW,
        max_keys: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        ipv6_prefix_length: int = 64,
    ) -> None:
        self.window = window
        #: refusals from one IPv6 network of this size share a window, as penalties do
        self.ipv6_prefix_length = ipv6_prefix_length
        self._max_keys = max_keys
        self._clock = clock
        #: key -> (start of its window, failures suppressed in it, what, fields of the last one)
        self._seen: OrderedDict[tuple[object, ...], _Window] = OrderedDict()
        #: windows open now per (kind, IPv6 /48, reason) and per (kind, address): ``_address``
        self._networks: Counter[tuple[object, ...]] = Counter()

    def flush(self) -> None:
        """Report failures suppressed in windows that have ended."""
        self._expire(self._clock(), everything=False)

    def flush_all(self) -> None:
        """Report every failure still suppressed (when shutting down)."""
        self._expire(self._clock(), everything=True)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Flush every window until cancelled, then report what is left."""
        task_status.started()
        try:
            while True:
                await trio.sleep(self.window)
                self.flush()
        finally:
            self.flush_all()

    def _address(
        self, kind: str, host: str, reason: str
    ) -> tuple[str, str, tuple[tuple[object, ...], ...]]:
        """The address and reason a refusal of ``kind`` is counted under, and the keys of
        ``_networks`` a new window of it counts in. An IPv6 client's group (/64) while its
        /48 has fewer than ``NETWORK_SHARE`` windows for this reason, then the /48 itself (one
        site rotating through its 65,536 /64s wrote a line for each, every minute); the
        reason while the address has fewer than ``MAX_REASONS`` windows, then ``various``."""
        self._expire(self._clock(), everything=False)
        address = client_group(host, self.ipv6_prefix_length)
        network = client_network(host, self.ipv6_prefix_length)
        counted: list[tuple[object, ...]] = []
        if network is not None:
            per_network = (kind, network, reason)
            if (kind, address, reason) in self._seen or self._networks[per_network] < NETWORK_SHARE:
                counted.append(per_network)
            else:
                address = network
        per_address = (kind, address)
        if (kind, address, reason) in self._seen or self._networks[per_address] < MAX_REASONS:
            return address, reason, (*counted, per_address)
        return address, "various", (*counted, per_address)

    def _admit(
        self,
        key: tuple[object, ...],
        what: str,
        fields: dict[str, FieldValue],
        counted: tuple[tuple[object, ...], ...] = (),
        level: int = logging.WARNING,
    ) -> bool:
        """Whether to log this one now (the first in its window); else it is counted.
        ``counted``: the keys of ``_networks`` a new window counts in; ``level``: the first
        line's, which its "repeated" line keeps."""
        now = self._clock()
        self._expire(now, everything=False)
        seen = self._seen.get(key)
        if seen is not None:
            self._seen[key] = replace(seen, count=seen.count + 1, fields=fields)
            return False
        self._seen[key] = _Window(now, 0, what, fields, counted, level)
        self._networks.update(counted)
        while len(self._seen) > self._max_keys:
            self._report(self._seen.popitem(last=False)[1])
        return True

    def _expire(self, now: float, *, everything: bool) -> None:
        """Report and drop the windows that have ended. They are kept in the order they began
        (a repeat updates its entry in place), so the ended ones are at the front: each call
        costs what it expires, not the whole table (4,096 keys cost 2 ms a call, and a flood of
        refused connections from many addresses held the trio thread)."""
        while self._seen:
            key, window = next(iter(self._seen.items()))
            if not everything and now - window.start < self.window:
                break
            del self._seen[key]
            self._report(window)

    def _report(self, window: _Window) -> None:
        for counted in window.counted:
            self._networks[counted] -= 1
            if self._networks[counted] <= 0:
                del self._networks[counted]
        if window.count:
            seconds = round(self._clock() - window.start)
            message = f"{window.what} repeated {window.count} more times in {seconds} s"
            event(self.logger, window.level, message, repeats=window.count, **window.fields)


@dataclass(frozen=True)
class _Window:
    start: float
    count: int
    what: str
    fields: dict[str, FieldValue]
    counted: tuple[tuple[object, ...], ...] = ()  # its keys in ``RepeatWindows._networks``
    level: int = logging.WARNING  # of its first line, and so of its "repeated" line
