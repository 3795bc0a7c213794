"""What the admin app is handed by the composition root, and the state it keeps while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import trio
from prometheus_client import CollectorRegistry
from quart import Quart

from admin.auth import UiSessions
from admin.minting import TokenMinter
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config import PenaltySettings
from pop3srv.metrics import Metrics
from pop3srv.registry import SessionRegistry

EXTENSION = "pop3srv.admin"
UI_SESSION_TTL = 12 * 3600.0


@dataclass(frozen=True)
class ClientInfo:
    """What a mail client needs to connect, shown next to a freshly minted password."""

    #: the POP3 server name; None: the host name the browser used to reach the admin app
    host: str | None
    tls_port: int | None
    plain_port: int | None
    stls: bool
    self_signed: bool


@dataclass(frozen=True)
class AdminDeps:
    registry: SessionRegistry
    prometheus: CollectorRegistry
    metrics: Metrics
    token: str = field(repr=False)
    minter: TokenMinter
    #: True once the POP3 listeners are bound (and not yet draining)
    ready: Callable[[], bool]
    #: the client-facing settings (a callable: the real ports are known only once bound)
    client: Callable[[], ClientInfo]
    ui_session_ttl: float = UI_SESSION_TTL
    #: how often live websockets look for moved counters (commands, bytes, last activity)
    live_refresh: float = 2.0
    #: Host names answered besides loopback names and IP literals (admin-host, admin-allowed-hosts)
    allowed_hosts: tuple[str, ...] = ()
    #: growing delays for wrong admin tokens, per client address (as for POP3 logins)
    penalty: LoginPenalty = field(default_factory=lambda: LoginPenalty(PenaltySettings()))


@dataclass
class AdminContext:
    """Per-app state: the deps, the logged-in UI sessions, and the shutdown notice that makes
    live websockets close with 1001 (going away)."""

    deps: AdminDeps
    sessions: UiSessions
    closing: trio.Event = field(default_factory=trio.Event)


def admin_context(app: Quart) -> AdminContext:
    """The context ``create_app`` attached to ``app``."""
    return cast(AdminContext, app.extensions[EXTENSION])
