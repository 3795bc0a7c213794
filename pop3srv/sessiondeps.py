"""What a POP3 session is given and what it tells the transport: the process-wide
collaborators every session shares (``SessionDeps``), the per-connection rules the transport
decides (``SessionPolicy``), and what the transport does after a command (``Action``).
``session`` re-exports them."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from pop3srv.admission import LoginSlots
from pop3srv.auth.base import Authenticator, LoginContext
from pop3srv.auth.failures import FailedLogins
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config import PenaltySettings
from pop3srv.failures import FailureLog
from pop3srv.locks import MaildropLocks
from pop3srv.metrics import Metrics
from pop3srv.readahead import ByteBudget
from pop3srv.registry import SessionRegistry
from pop3srv.storage.base import Location, MessageStore


class Action(enum.Enum):
    """What the transport does after a command."""

    CONTINUE = "continue"
    START_TLS = "start-tls"
    CLOSE = "close"


@dataclass(frozen=True)
class SessionDeps:
    """Process-wide collaborators every session shares."""

    authenticator: Authenticator
    open_store: Callable[[Location], MessageStore]
    registry: SessionRegistry
    metrics: Metrics
    penalty: LoginPenalty = field(default_factory=lambda: LoginPenalty(PenaltySettings()))
    logins: LoginSlots = field(default_factory=lambda: LoginSlots(4))
    #: None: this process's locks only (the registry's)
    locks: MaildropLocks | None = None
    implementation: str = "pop3srv"
    failures: FailureLog = field(default_factory=FailureLog)
    #: recent failed logins for the admin app's security view (None: not kept)
    failed_logins: FailedLogins | None = None
    #: how the admin app names a login's mailbox (a ``mailboxes`` entry, else its location)
    mailbox_name: Callable[[Location], str] = field(default=lambda location: location.lock_key)
    #: the process-wide read-ahead budget; None: no read-ahead
    readahead: ByteBudget | None = None


@dataclass(frozen=True)
class SessionPolicy:
    """Per-connection rules decided by the transport."""

    plaintext_auth_allowed: bool
    max_bad_commands: int = 10
    max_auth_failures: int = 3
    context: LoginContext = field(default_factory=LoginContext)
