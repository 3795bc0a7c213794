"""Dovecot-style login penalty: after a few free failures each further failure doubles the
delay before the next login attempt is checked, up to a cap.

Failures are counted per client address (IPv6 grouped by its ``/ipv6_prefix_length``) and per
target user name (across addresses). The address count is what delays an address; a success
forgives only that address's failures for the same user, so an attacker's own working account
does not reset the budget for guessing another user's password. The per-user count slows the
failed logins to a user under a distributed attack (``user_delay``, with a lower cap); the
right password is not slowed, so strangers guessing at a name (``jwt`` is shared by every
JWT user) cannot slow the real users' logins. Counts decay by one per ``decay`` seconds and
are forgotten after ``forget_after`` seconds without failures; memory is bounded (oldest
first).

An IPv6 ``/64`` is also counted within its ``/48`` (``NETWORK_PREFIX``, a site's allocation,
free from tunnel brokers): the network gets ``NETWORK_SHARE`` times an address's free failures
and parallel attempts, then its addresses are delayed together. Without it one /48 was 65,536
fresh addresses: each with its own free failures, all checked in parallel, and enough of them
to evict every other record of the bounded table (forgiving those addresses). Networks live
in a table of their own, so a flood of addresses cannot evict them.

While an address is delayed, at most one of its attempts is in progress (``attempt``): the
others are refused at once instead of each waiting out its own delay in parallel.
Time comes from trio's clock, so tests run on ``autojump_clock``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import trio

from pop3srv.config import PenaltySettings
from pop3srv.netaddr import NETWORK_SHARE, client_group, client_network
from pop3srv.tally import counted_each

#: longer user names are counted by their digest
MAX_NAME_KEY = 64
#: names remembered per address for "a success forgives this user's failures"
MAX_NAMES_PER_ADDRESS = 32
#: failures for one user name (from any address) before that user's logins are slowed
USER_FREE_FAILURES = 5
#: the longest a login is delayed for its user name's sake (a victim is never locked out)
USER_MAXIMUM = 4.0


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0  # time of the last failure
    decayed: float = 0.0  # time the count was last decayed to
    by_user: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class DelayedAddress:
    """One entry of ``LoginPenalty.delayed()`` (the admin console's security view)."""

    address: str  # the key: an IPv4 address or an IPv6 network
    failures: int
    delay: float  # what the next attempt waits
    retry_after: float  # seconds left of the delay earned by the last failure
    last_failure: float  # trio time


class LoginPenalty:
    def __init__(
        self,
        settings: PenaltySettings,
        *,
        forget_after: float = 900.0,
        decay: float = 60.0,
        max_addresses: int = 65536,
        ipv6_prefix_length: int = 64,
    ) -> None:
        self._settings = settings
        self._forget_after = forget_after
        self._decay = decay
        self._max = max_addresses
        self._prefix = ipv6_prefix_length
        self._addresses: OrderedDict[str, _Record] = OrderedDict()
        self._users: OrderedDict[str, _Record] = OrderedDict()
        self._networks: OrderedDict[str, _Record] = OrderedDict()
        #: login attempts in progress per address key
        self._in_flight: Counter[str] = Counter()

    def key(self, address: str) -> str:
        """What ``address`` is counted under (its IPv6 network, or itself)."""
        return client_group(address, self._prefix)

    def network(self, address: str) -> str | None:
        """The wider network ``address`` is also counted in (IPv6 only), or None."""
        return client_network(address, self._prefix)

    def delay(self, address: str) -> float:
        """Seconds to wait before checking a login from ``address`` (a failed one also waits
        out ``user_delay``): its own, or its network's if longer."""
        return max(self.own_delay(address), self._network_delay(address)[0])

    def own_delay(self, address: str) -> float:
        """The delay ``address`` earned by its own failures (not its network's)."""
        record = self._current(self._addresses, self.key(address))
        return self._delay_for(record.failures if record else 0, self._settings.free_failures)

    def _network_delay(self, address: str) -> tuple[float, float]:
        """The delay ``address``'s network earned, and when its last failure was."""
        network = self.network(address)
        record = self._current(self._networks, network) if network else None
        if record is None:
            return 0.0, 0.0
        free = self._settings.free_failures * NETWORK_SHARE
        return self._delay_for(record.failures, free), record.last

    def user_delay(self, user: str) -> float:
        """Seconds a failed login for ``user`` waits before it is answered, for the failures
        other addresses had with that name (capped at ``USER_MAXIMUM``). The login gate
        applies it to failures only: a right password is never slowed by strangers (many
        users share one name, e.g. ``jwt``), while a guess still costs the guesser the wait."""
        named = self._current(self._users, name_key(user))
        if named is None:
            return 0.0
        return min(self._delay_for(named.failures, USER_FREE_FAILURES), USER_MAXIMUM)

    def retry_after(self, address: str) -> float:
        """Seconds left of the delay the address's last failure earned (0: not delayed now)."""
        record = self._current(self._addresses, self.key(address))
        network_wait, network_last = self._network_delay(address)
        left = max(0.0, network_last + network_wait - trio.current_time())
        if record is None:
            return left
        wait = self._delay_for(record.failures, self._settings.free_failures)
        return max(left, record.last + wait - trio.current_time())

    @contextmanager
    def attempt(self, address: str, *, exclusive: bool = False) -> Iterator[bool]:
        """Whether a login attempt from ``address`` may go ahead now: not while another of the
        same address is in progress and the address is delayed (``exclusive``: ever)."""
        key, network = self.key(address), self.network(address)
        busy = self._in_flight[key] > 0
        if network is not None:
            busy |= self._in_flight[network] > 0 and self._network_delay(address)[0] > 0
        if busy and (exclusive or self.delay(address) > 0):
            yield False
            return
        with counted_each(self._in_flight, (key, network)):
            yield True

    def in_flight(self, address: str) -> int:
        """Login attempts of ``address`` (its network) in progress now; for an IPv6 address
        at least its wider network's count in units of one address (``NETWORK_SHARE``)."""
        own = self._in_flight[self.key(address)]
        network = self.network(address)
        return own if network is None else max(own, self._in_flight[network] // NETWORK_SHARE)

    def failed(self, address: str, user: str | None = None) -> None:
        now = trio.current_time()
        records = [self._bump(self._addresses, self.key(address), now)]
        if (network := self.network(address)) is not None:
            records.append(self._bump(self._networks, network, now))
        if user is not None:
            name = name_key(user)
            for record in records:
                record.by_user[name] += 1
                while len(record.by_user) > MAX_NAMES_PER_ADDRESS:
                    del record.by_user[next(iter(record.by_user))]
            self._bump(self._users, name, now)

    def succeeded(self, address: str, user: str | None = None) -> None:
        """Forgive the address's failures for ``user`` (None: all of them), in its own count
        and its network's."""
        network = self.network(address)
        forgiven = self._forgive_user(self._addresses, self.key(address), user)
        if network is not None:
            self._forgive_user(self._networks, network, user, forgiven)

    def _forgive_user(
        self, records: OrderedDict[str, _Record], key: str, user: str | None, most: int = -1
    ) -> int:
        """Drop up to ``most`` (-1: all) of ``key``'s failures for ``user`` (None: any)."""
        record = self._current(records, key)
        if record is None:
            return 0
        name = None if user is None else name_key(user)
        count = record.failures if name is None else record.by_user[name]
        count = count if most < 0 else min(count, most)
        record.failures = max(0, record.failures - count)
        if name is None:
            record.by_user.clear()
        else:
            record.by_user[name] -= count
            if record.by_user[name] <= 0:
                del record.by_user[name]
        if not record.failures:
            del records[key]
        return count

    def delayed(self) -> list[DelayedAddress]:
        """The addresses whose next login is delayed, most recent failure first."""
        result = []
        free = self._settings.free_failures
        for records, allowed in ((self._addresses, free), (self._networks, free * NETWORK_SHARE)):
            for key in list(records):
                record = self._current(records, key)
                if record is None:
                    continue
                wait = self._delay_for(record.failures, allowed)
                if wait > 0:
                    left = max(0.0, record.last + wait - trio.current_time())
                    result.append(DelayedAddress(key, record.failures, wait, left, record.last))
        return sorted(result, key=lambda entry: entry.last_failure, reverse=True)

    def forgive(self, address: str) -> bool:
        """Drop an address's failures (an address, or a key from ``delayed()``), and its
        network's, so it is not delayed after; whether it had any."""
        if address in self._networks:
            return self._networks.pop(address) is not None
        key = address if address in self._addresses else self.key(address)
        network = self.network(address)
        known = self._addresses.pop(key, None) is not None
        return (network is not None and self._networks.pop(network, None) is not None) or known

    def _delay_for(self, failures: int, free: int) -> float:
        extra = failures - free
        if extra <= 0:
            return 0.0
        return float(min(self._settings.maximum, self._settings.start * 2 ** min(extra - 1, 62)))

    def _bump(self, records: OrderedDict[str, _Record], key: str, now: float) -> _Record:
        record = self._current(records, key) or _Record()
        record.failures += 1
        record.last = record.decayed = now
        records[key] = record
        records.move_to_end(key)
        while len(records) > self._max:
            records.popitem(last=False)
        return record

    def _current(self, records: OrderedDict[str, _Record], key: str) -> _Record | None:
        """The record with its decay applied; None (and dropped) once nothing is left of it."""
        record = records.get(key)
        if record is None:
            return None
        now = trio.current_time()
        if now - record.last > self._forget_after:
            del records[key]
            return None
        if self._decay > 0 and now - record.decayed >= self._decay:
            steps = int((now - record.decayed) // self._decay)
            record.failures = max(0, record.failures - steps)
            record.decayed += steps * self._decay
            if not record.failures:
                del records[key]
                return None
        return record


def name_key(user: str) -> str:
    """A user name as counted (here and by ``admission.LoginSlots``): NFKC-normalised,
    case-folded and without spaces around it (``José`` composed or decomposed, full-width or
    upper-case is one name, as an identity provider behind the HTTP callback would take it),
    and a long one (a client may send 16 KiB) by its digest, so memory stays bounded by the
    number of names."""
    folded = unicodedata.normalize("NFKC", user).casefold()
    name = unicodedata.normalize("NFKC", folded).strip()  # AUTH PLAIN keeps " bob " whole
    if len(name) <= MAX_NAME_KEY:
        return name
    return "sha256:" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
