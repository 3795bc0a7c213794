"""Dovecot-style login penalty per client address: after a few free failures each further
failure doubles the delay before that address's next login attempt is checked, up to a cap.

Only the failing address is slowed; memory is bounded (oldest addresses are forgotten first)
and an address is forgiven after ``forget_after`` seconds without failures or on a success.
Time comes from trio's clock, so tests run on ``autojump_clock``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import trio

from pop3srv.config_model import PenaltySettings
from pop3srv.netaddr import host_of


@dataclass
class _Record:
    failures: int
    last: float


class LoginPenalty:
    def __init__(
        self, settings: PenaltySettings, *, forget_after: float = 900.0, max_addresses: int = 65536
    ) -> None:
        self._settings = settings
        self._forget_after = forget_after
        self._max = max_addresses
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def delay(self, address: str) -> float:
        """Seconds to wait before checking a login from ``address``."""
        record = self._current(address)
        if record is None:
            return 0.0
        extra = record.failures - self._settings.free_failures
        if extra <= 0:
            return 0.0
        return float(min(self._settings.maximum, self._settings.start * 2 ** (extra - 1)))

    def failed(self, address: str) -> None:
        record = self._current(address) or _Record(0, 0.0)
        record.failures += 1
        record.last = trio.current_time()
        self._records[address] = record
        self._records.move_to_end(address)
        while len(self._records) > self._max:
            self._records.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._records.pop(address, None)

    def _current(self, address: str) -> _Record | None:
        record = self._records.get(address)
        if record is not None and trio.current_time() - record.last > self._forget_after:
            del self._records[address]
            return None
        return record


def address_of(peer: str) -> str:
    """The address part of a ``host:port`` / ``[v6]:port`` peer."""
    return host_of(peer)
