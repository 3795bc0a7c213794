"""The limits every POP3 connection runs under (``TransportLimits``), and admission control:
a global cap and a cap per client address counted from accept (so TLS handshakes in progress
count too; an IPv6 /64 also within its /48, which may hold ``NETWORK_SHARE`` times an address's
share: one site's 65,536 /64s took every slot before), and a cap on login attempts in progress
per user name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from pop3srv.auth.penalty import name_key
from pop3srv.config import Settings
from pop3srv.netaddr import NETWORK_SHARE, client_group, client_network
from pop3srv.tally import counted, counted_each


@dataclass(frozen=True)
class TransportLimits:
    """Timeouts and caps applied to every connection."""

    idle_timeout: float = 600.0
    login_timeout: float = 60.0
    max_connections: int = 1000
    max_connections_per_ip: int = 50
    max_bad_commands: int = 10
    allow_insecure_auth: bool = False
    max_auth_failures: int = 3
    ipv6_prefix_length: int = 64
    trust_loopback: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> TransportLimits:
        limits, auth = settings.limits, settings.auth
        return cls(
            idle_timeout=limits.idle_timeout,
            login_timeout=limits.login_timeout,
            max_connections=limits.max_connections,
            max_connections_per_ip=limits.max_connections_per_ip,
            max_bad_commands=limits.max_bad_commands,
            allow_insecure_auth=auth.allow_insecure_auth,
            max_auth_failures=auth.penalty.max_auth_failures,
            ipv6_prefix_length=limits.ipv6_prefix_length,
            trust_loopback=auth.trust_loopback,
        )


class Admission:
    """Counts open connections overall and per address; refuses beyond the caps."""

    def __init__(self, max_total: int, max_per_address: int, ipv6_prefix_length: int = 64) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.ipv6_prefix_length = ipv6_prefix_length
        self._total = 0
        self._by_address: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return self._total

    def refusal(self, address: str) -> str | None:
        """Why a new connection from ``address`` must be refused now, or None. IPv6 addresses
        count per network (``ipv6_prefix_length``)."""
        if self._total >= self.max_total:
            return "max_connections"
        if self._by_address[self._key(address)] >= self.max_per_address:
            return "max_connections_per_ip"
        network = self._network(address)
        if network is not None and self._by_address[network] >= self._network_cap:
            return "max_connections_per_ip"
        return None

    @contextmanager
    def admitted(self, address: str) -> Iterator[None]:
        """Count a connection for the duration of the block."""
        self._total += 1
        try:
            with counted_each(self._by_address, (self._key(address), self._network(address))):
                yield
        finally:
            self._total -= 1

    @property
    def _network_cap(self) -> int:
        return self.max_per_address * NETWORK_SHARE

    def _key(self, address: str) -> str:
        return client_group(address, self.ipv6_prefix_length)

    def _network(self, address: str) -> str | None:
        return client_network(address, self.ipv6_prefix_length)


class LoginSlots:
    """Login attempts in progress per (user name, client address), capped: a burst of parallel
    guesses at one mailbox, or a client stuck reconnecting, cannot pile up, and strangers
    guessing at a user from their addresses cannot take the slots of the user's own logins."""

    def __init__(self, max_per_user: int) -> None:
        self.max_per_user = max_per_user
        self._in_progress: Counter[tuple[str, str]] = Counter()

    def in_progress(self, user: str, address: str) -> int:
        return self._in_progress[(name_key(user), address)]

    def slot(self, user: str, address: str) -> AbstractContextManager[bool]:
        """Yields whether this attempt may proceed; counted for the block when it may.
        ``address`` is the client's key (``LoginPenalty.key``: IPv6 grouped by network)."""
        return counted(self._in_progress, (name_key(user), address), self.max_per_user)
