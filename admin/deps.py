"""What the admin app is handed by the composition root, and the state it keeps while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import trio
from prometheus_client import CollectorRegistry
from quart import Quart

from admin.audit import AuditLog
from admin.auth import UiSessions
from admin.minting import TokenMinter
from pop3srv.auth.apppassword import current_version
from pop3srv.auth.failures import FailedLogins
from pop3srv.auth.ledger import TokenLedger
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config import PenaltySettings
from pop3srv.metrics import Metrics
from pop3srv.registry import SessionRegistry

if TYPE_CHECKING:
    from admin.overview import Sampler

EXTENSION = "pop3srv.admin"
UI_SESSION_TTL = 12 * 3600.0


@dataclass(frozen=True)
class ClientInfo:
    """What a mail client needs to connect, shown next to a freshly minted password."""

    #: the POP3 server name (``public-host``); None: not configured (the UI says so)
    host: str | None
    tls_port: int | None
    plain_port: int | None
    stls: bool
    self_signed: bool
    #: what to configure for each value not set (``public-host`` ...), shown instead of it
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerInfo:
    """The overview's fixed facts: version, start time, where the listeners are."""

    version: str
    started_at: float
    #: e.g. {"plain": ["0.0.0.0:2110"], "tls": [...], "admin": [...]}
    listeners: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class AdminDeps:
    registry: SessionRegistry
    prometheus: CollectorRegistry
    metrics: Metrics
    token: str = field(repr=False)
    #: the minter for the settings in force (a SIGHUP reload may swap its tables)
    minters: Callable[[], TokenMinter]
    #: True once the POP3 listeners are bound (and not yet draining)
    ready: Callable[[], bool]
    #: the client-facing settings (a callable: the real ports are known only once bound)
    client: Callable[[], ClientInfo]
    ui_session_ttl: float = UI_SESSION_TTL
    #: how often live websockets look for moved counters (commands, bytes, last activity)
    live_refresh: float = 2.0
    #: Host names answered besides loopback names and IP literals (admin-host, admin-allowed-hosts)
    allowed_hosts: tuple[str, ...] = ()
    #: the token was generated (state-dir, 256 bits): the right one is accepted even within an
    #: address's delay, so wrong tokens sent from a shared address (the TLS proxy in front, a
    #: NAT) cannot lock the admin out; a token chosen by the operator keeps the strict delay
    token_unguessable: bool = False
    #: growing delays for wrong admin tokens, per client address (as for POP3 logins)
    penalty: LoginPenalty = field(default_factory=lambda: LoginPenalty(PenaltySettings()))
    #: the token registry (None: minted tokens are not registered and cannot be revoked)
    ledger: TokenLedger | None = None
    audit: AuditLog = field(default_factory=AuditLog)
    #: POP3 logins: recent failures and the per-address penalty (the security view)
    failures: FailedLogins = field(default_factory=FailedLogins)
    login_penalty: LoginPenalty = field(default_factory=lambda: LoginPenalty(PenaltySettings()))
    #: version, start time and listeners, for the overview (a callable: ports bind late)
    server: Callable[[], ServerInfo] = field(
        default=lambda: ServerInfo(version="unknown", started_at=0.0)
    )
    #: seconds between the overview's samples of the metrics
    sample_interval: float = 5.0

    @property
    def minter(self) -> TokenMinter:
        return self.minters()


@dataclass
class AdminContext:
    """Per-app state: the deps, the logged-in UI sessions, and the shutdown notice that makes
    live websockets close with 1001 (going away)."""

    deps: AdminDeps
    sessions: UiSessions
    closing: trio.Event = field(default_factory=trio.Event)
    #: the overview's metric sampler (set and run while serving by ``overview.register``)
    sampler: Sampler | None = None

    def app_password_version(self, mailbox: str) -> int | None:
        """The version app passwords of ``mailbox`` are minted at (None: unknown mailbox)."""
        entry = self.deps.minter.mailboxes.get(mailbox)
        return None if entry is None else current_version(entry, self.deps.ledger)


def admin_context(app: Quart) -> AdminContext:
    """The context ``create_app`` attached to ``app``."""
    return cast(AdminContext, app.extensions[EXTENSION])
