"""The token registry: every JWT the admin app mints (by ``jti``), which of them are revoked,
and the app-password versions bumped from the admin app.

The registry is one small JSON document kept by a backend (``ledgerstore``): a file in
``state-dir`` for a single server, an object under the lock prefix in the bucket with
``lock: s3`` (conditional writes, so replicas never overwrite each other's changes). Every
change is a read-modify-write through the backend; ``run`` re-reads it every few seconds, so a
revocation made on one replica is honoured by every other within ``refresh`` seconds.

Logins consult the in-memory copy only (``revoked``, ``registered``, ``app_password_version``):
no I/O on the login path. Listeners hear about revocations this process has not seen before,
to end the live sessions that logged in with them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, TypeVar

import trio

log = logging.getLogger(__name__)

T = TypeVar("T")
#: expired tokens are forgotten this long after their expiry
KEEP_EXPIRED = 30 * 24 * 3600
MAX_RECORDS = 20_000
#: a token this long past its expiry is refused by its ``exp`` whatever the registry says
EXPIRED_MARGIN = 24 * 3600
FORMAT = 1


@dataclass(frozen=True)
class TokenRecord:
    """One minted JWT (never the token itself)."""

    jti: str
    mailbox: str
    label: str
    created_at: int
    expires_at: int | None
    minted_by: str
    revoked_at: int | None = None

    def public(self) -> dict[str, Any]:
        return asdict(self)


_TEXT_FIELDS = ("jti", "mailbox", "label", "minted_by")
_TIME_FIELDS = ("created_at", "expires_at", "revoked_at")


def _check_types(record: TokenRecord) -> None:
    """``TypeError`` naming the first field of the wrong type: an ``expires_at`` of "x" made
    every later mint fail in ``prune`` (a 500 with a traceback) instead of "malformed"."""
    for name in _TEXT_FIELDS:
        if not isinstance(getattr(record, name), str):
            raise TypeError(name)
    for name in _TIME_FIELDS:
        value = getattr(record, name)
        if not (value is None and name != "created_at") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise TypeError(name)


@dataclass
class LedgerState:
    tokens: dict[str, TokenRecord] = field(default_factory=dict)
    #: mailbox name -> app-password version set from the admin app (overrides config upward)
    app_password_versions: dict[str, int] = field(default_factory=dict)

    def copy(self) -> LedgerState:
        return LedgerState(dict(self.tokens), dict(self.app_password_versions))

    @property
    def empty(self) -> bool:
        return not (self.tokens or self.app_password_versions)

    def restore_into(self, state: LedgerState) -> None:
        """Put these records and versions back into ``state`` (versions only go up)."""
        state.tokens.update(self.tokens)
        for mailbox, version in self.app_password_versions.items():
            current = state.app_password_versions.get(mailbox, 0)
            state.app_password_versions[mailbox] = max(current, version)

    def to_bytes(self) -> bytes:
        document = {
            "format": FORMAT,
            "tokens": [record.public() for record in self.tokens.values()],
            "app_password_versions": self.app_password_versions,
        }
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LedgerState:
        """The state in ``data``; ``ValueError`` if it is not a registry document."""
        try:
            document = json.loads(data)
        except RecursionError:  # nested too deeply: not ours (a 500 per mint before)
            raise ValueError("not a pop3srv token registry (nested too deeply)") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError("not a pop3srv token registry (format 1)")
        try:
            tokens = {}
            for item in document.get("tokens", []):
                record = TokenRecord(**{k: item[k] for k in TokenRecord.__dataclass_fields__})
                _check_types(record)
                tokens[record.jti] = record
            versions = document.get("app_password_versions", {})
            return cls(tokens, {str(k): int(v) for k, v in versions.items()})
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed token registry: {exc!r}") from exc

    def prune(self, now: float) -> None:
        """Forget tokens long expired; beyond ``MAX_RECORDS`` forget expired tokens, then the
        oldest others, but never a revoked token that may still be valid: without
        ``require-jti`` a forgotten ``jti`` is accepted again (so revoked records are kept
        beyond the cap; they are small, and revoking is an admin's act)."""
        for jti in [
            jti
            for jti, r in self.tokens.items()
            if r.expires_at is not None and r.expires_at + KEEP_EXPIRED < now
        ]:
            del self.tokens[jti]
        excess = len(self.tokens) - MAX_RECORDS
        if excess > 0:
            droppable = [r for r in self.tokens.values() if not _revocation_matters(r, now)]
            droppable.sort(key=lambda r: (not _expired(r, now), r.created_at))
            for record in droppable[:excess]:
                del self.tokens[record.jti]


class LedgerBackend(Protocol):
    """Where the registry document lives."""

    #: human-readable, for logs ("state-dir/tokens.json", "s3://bucket/key")
    where: str

    async def load(self) -> LedgerState: ...

    async def update(self, change: Callable[[LedgerState], T]) -> tuple[LedgerState, T]:
        """Apply ``change`` to the current document and store it atomically (retrying when
        another writer got in between); the stored state and what ``change`` returned."""
        ...


@dataclass(frozen=True)
class Revocation:
    """A revocation this process learnt of: a token (``jti``) or a mailbox's app passwords."""

    jti: str | None = None
    mailbox: str | None = None


RevocationListener = Callable[[Revocation], None]


class TokenLedger:
    def __init__(
        self,
        backend: LedgerBackend,
        *,
        refresh: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.refresh = refresh
        self._clock = clock
        self._state = LedgerState()
        self._listeners: list[RevocationListener] = []

    # --- the login path: memory only --------------------------------------------------

    def revoked(self, jti: str) -> bool:
        return _revoked_in(self._state.tokens, jti)

    def registered(self, jti: str) -> bool:
        return jti in self._state.tokens

    def app_password_version(self, mailbox: str, configured: int) -> int:
        """The configured version, or the admin app's bump when it is higher."""
        return max(configured, self._state.app_password_versions.get(mailbox, 0))

    def records(self) -> list[TokenRecord]:
        """Newest first."""
        return sorted(self._state.tokens.values(), key=lambda r: r.created_at, reverse=True)

    def listen(self, listener: RevocationListener) -> None:
        self._listeners.append(listener)

    # --- changes ------------------------------------------------------------------------

    async def load(self) -> None:
        """Take the stored document; revocations this process knows of are never forgotten
        (a document deleted or rolled back, e.g. by a user of a mailbox whose prefix is the
        lock prefix, would otherwise accept revoked tokens again): they are written back."""
        state = await self.backend.load()
        lost = self._lost_revocations(state)
        if not lost.empty:
            log.warning(
                "token registry %s lost %d revocation(s) and %d app-password version(s): "
                "written back",
                self.backend.where,
                len(lost.tokens),
                len(lost.app_password_versions),
            )
            state, _ = await self.backend.update(lost.restore_into)
        self._adopt(state)

    def _lost_revocations(self, stored: LedgerState) -> LedgerState:
        """What the current state revokes (or bumps) that ``stored`` no longer does."""
        now = self._clock()
        tokens = {
            jti: record
            for jti, record in self._state.tokens.items()
            if _revocation_matters(record, now) and not _revoked_in(stored.tokens, jti)
        }
        versions = {
            mailbox: version
            for mailbox, version in self._state.app_password_versions.items()
            if version > stored.app_password_versions.get(mailbox, 0)
        }
        return LedgerState(tokens, versions)

    async def register(self, record: TokenRecord) -> None:
        def add(state: LedgerState) -> None:
            state.prune(self._clock())
            state.tokens[record.jti] = record

        state, _ = await self.backend.update(add)
        self._adopt(state)

    async def revoke(self, jti: str) -> TokenRecord | None:
        """Revoke ``jti`` (revoking twice keeps the first time); None if unknown."""
        now = int(self._clock())

        def mark(state: LedgerState) -> TokenRecord | None:
            record = state.tokens.get(jti)
            if record is None or record.revoked_at is not None:
                return record
            state.tokens[jti] = replace(record, revoked_at=now)
            return state.tokens[jti]

        state, record = await self.backend.update(mark)
        self._adopt(state)
        return record

    async def bump_app_password(self, mailbox: str, configured: int) -> int:
        """Raise ``mailbox``'s app-password version by one (above the configured one)."""

        def bump(state: LedgerState) -> int:
            current = max(configured, state.app_password_versions.get(mailbox, 0))
            state.app_password_versions[mailbox] = current + 1
            return current + 1

        state, version = await self.backend.update(bump)
        self._adopt(state)
        return version

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Re-read the document every ``refresh`` seconds until cancelled; a failed read is
        logged and the last known state kept."""
        task_status.started()
        while True:
            await trio.sleep(self.refresh)
            try:
                await self.load()
            except Exception as exc:  # S3 down, a bad document: keep serving
                log.warning("token registry %s not re-read: %s", self.backend.where, exc)

    def _adopt(self, state: LedgerState) -> None:
        """Take ``state`` as current; tell listeners what it newly revokes."""
        old = self._state
        self._state = state.copy()
        news = [
            Revocation(jti=jti)
            for jti, record in state.tokens.items()
            if record.revoked_at is not None and not _revoked_in(old.tokens, jti)
        ]
        news += [
            Revocation(mailbox=mailbox)
            for mailbox, version in state.app_password_versions.items()
            if version > old.app_password_versions.get(mailbox, 0)
        ]
        for news_item in news:
            for listener in list(self._listeners):
                listener(news_item)


def _expired(record: TokenRecord, now: float) -> bool:
    """Expired long enough ago that no ``jwt-leeway`` accepts it any more."""
    return record.expires_at is not None and record.expires_at + EXPIRED_MARGIN < now


def _revocation_matters(record: TokenRecord, now: float) -> bool:
    return record.revoked_at is not None and not _expired(record, now)


def _revoked_in(tokens: Mapping[str, TokenRecord], jti: str) -> bool:
    record = tokens.get(jti)
    return record is not None and record.revoked_at is not None
