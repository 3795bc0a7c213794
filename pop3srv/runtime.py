"""The process-wide objects built once from settings: registry, metrics, TLS context,
authenticator, S3 pool, maildrop locks, and the store each mailbox location opens."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import trio
from prometheus_client import CollectorRegistry

from pop3srv.auth.base import Authenticator, LoginContext, Principal
from pop3srv.auth.factory import build_authenticator, mailbox_resolver
from pop3srv.auth.failures import FailedLogins
from pop3srv.auth.generated import ensure_generated_jwt_secret
from pop3srv.auth.ledger import TokenLedger
from pop3srv.auth.ledgerstore import choose_backend
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config import Settings
from pop3srv.failures import FailureLog
from pop3srv.locks import MaildropLocks
from pop3srv.metrics import Metrics, create_metrics
from pop3srv.proxied import ProxyGate
from pop3srv.readahead import ByteBudget
from pop3srv.registry import SessionRegistry
from pop3srv.statedir import check_private_file, check_trusted
from pop3srv.storage.base import (
    DemoLocation,
    EmptyLocation,
    FolderLocation,
    Location,
    MessageStore,
    S3Credentials,
    S3Location,
    StoreUnavailable,
)
from pop3srv.storage.empty import EmptyStore
from pop3srv.storage.folder import FolderStore, ListingCache
from pop3srv.storage.memory import demo_store
from pop3srv.storage.pool import PoolSettings, S3Pool
from pop3srv.storage.s3 import S3Store
from pop3srv.storage.s3lock import S3Locks
from pop3srv.storage.sizes import SizeCache, SizedStore, state_cache
from pop3srv.tls import context_from_pem, ensure_self_signed, server_context


@dataclass(frozen=True)
class Bound:
    """Where the service listens once started (real ports, also when configured as 0)."""

    plain: list[tuple[str, int]] = field(default_factory=list)
    tls: list[tuple[str, int]] = field(default_factory=list)
    self_signed_cert: str | None = None
    #: the admin app (empty when ``admin-port`` is 0)
    admin: list[tuple[str, int]] = field(default_factory=list)


class SwappableAuthenticator:
    """The configured authenticator, replaced whole when the login tables are reloaded; a
    login in progress finishes with the one it started with."""

    def __init__(self, current: Authenticator) -> None:
        self.current = current

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        return await self.current.authenticate(user, password, context)


@dataclass
class Runtime:
    """The process-wide objects, shared by the POP3 listeners and the admin app."""

    #: the settings now in force (replaced by a reload)
    settings: Settings
    registry: SessionRegistry
    metrics: Metrics
    prometheus: CollectorRegistry
    tls_context: ssl.SSLContext | None
    self_signed_cert: str | None
    authenticator: SwappableAuthenticator
    penalty: LoginPenalty
    http_client: httpx.AsyncClient
    #: S3 clients and worker threads shared by every S3 mailbox (and the admin app)
    pool: S3Pool
    locks: MaildropLocks
    #: PROXY protocol on the POP3 listeners (None: off)
    proxy: ProxyGate | None = None
    failures: FailureLog = field(default_factory=FailureLog)
    #: what SIGHUP changes in the running listeners (set by ``service.serve``)
    tls_target: TlsTarget | None = None
    #: folder listings reused while a folder is unchanged
    listings: ListingCache = field(default_factory=ListingCache)
    #: measured transfer sizes (LIST/STAT exact for bare-LF mail), kept in state-dir
    sizes: SizeCache = field(default_factory=SizeCache)
    #: octets all sessions together may hold read ahead (S3 mailboxes)
    readahead: ByteBudget = field(default_factory=ByteBudget)
    #: set once the POP3 listeners are bound (the admin app's /readyz)
    ready: trio.Event = field(default_factory=trio.Event)
    #: the token registry (minted JWTs, revocations, app-password versions)
    ledger: TokenLedger | None = None
    #: where a generated jwt-secret lives (None: configured, or none)
    generated_jwt_secret: Path | None = None
    #: recent failed logins (the admin app's security view)
    failed_logins: FailedLogins = field(default_factory=FailedLogins)
    #: when the runtime was built (the admin overview's uptime)
    started_at: float = field(default_factory=time.time)
    #: the settings ``_mailbox_names`` was built from, and it
    _names: tuple[Settings | None, dict[str, str]] = field(
        default_factory=lambda: (None, {}), repr=False
    )

    def is_ready(self) -> bool:
        return self.ready.is_set() and not self.registry.shutting_down.is_set()

    def mailbox_name(self, location: Location) -> str:
        """What the admin app calls the mailbox of ``location``: its ``mailboxes`` name, else
        where it is (``s3://bucket/prefix``, ``folder:path``, ``demo``, ``empty``)."""
        if (name := self._mailbox_names().get(location.lock_key)) is not None:
            return name
        match location:
            case S3Location():
                return f"s3://{location.bucket}/{location.prefix}"
            case FolderLocation():
                return f"folder:{location.prefix or location.root}"
            case DemoLocation() | EmptyLocation():
                return location.lock_key.partition(":")[0]

    def _mailbox_names(self) -> dict[str, str]:
        """Lock key -> ``mailboxes`` name, built once per settings (a reload builds it again)."""
        built_for, names = self._names
        if built_for is not self.settings:
            resolver, names = mailbox_resolver(self.settings), {}
            for name, entry in self.settings.auth.mailboxes.items():
                names.setdefault(resolver.from_entry(entry).lock_key, name)
            self._names = (self.settings, names)
        return names

    def open_store(self, location: Location) -> MessageStore:
        """The store of a login's mailbox; S3 stores share this runtime's pool."""
        s3 = self.settings.s3
        trash = s3.trash_prefix if s3.delete_mode == "trash" else None
        return open_store(
            location,
            self.pool,
            trash_prefix=trash,
            listings=self.listings,
            sizes=self.sizes,
            spool_dir=self.settings.store.state_dir / "spool",
        )


def build_runtime(settings: Settings, *, pool_settings: PoolSettings | None = None) -> Runtime:
    """Everything the service needs, built once from validated settings.

    ``pool_settings`` sizes the S3 client pool (tests use short timeouts and few retries).
    """
    _check_state_dir(settings)
    settings, generated_secret = ensure_generated_jwt_secret(settings)
    prometheus = CollectorRegistry()
    metrics = create_metrics(prometheus)
    context, cert = tls_context(settings)
    http_client = httpx.AsyncClient(headers={"User-Agent": "pop3srv"})
    pool = S3Pool(metrics, pool_settings)
    registry = SessionRegistry()
    proxy = ProxyGate(settings.listen.proxy_trusted) if settings.listen.proxy_protocol else None
    s3 = settings.s3
    remote = S3Locks(pool, lease=s3.lock_lease, prefix=s3.lock_prefix) if s3.lock == "s3" else None
    ledger = TokenLedger(
        choose_backend(pool, settings.store.state_dir, shared_bucket(settings), s3.lock_prefix)
    )
    authenticator = build_authenticator(settings, default_location(settings), http_client, ledger)
    return Runtime(
        settings=settings,
        registry=registry,
        metrics=metrics,
        prometheus=prometheus,
        tls_context=context,
        self_signed_cert=cert,
        authenticator=SwappableAuthenticator(authenticator),
        penalty=LoginPenalty(
            settings.auth.penalty, ipv6_prefix_length=settings.limits.ipv6_prefix_length
        ),
        http_client=http_client,
        pool=pool,
        locks=MaildropLocks(registry, remote, takeover=s3.lock_takeover, metrics=metrics),
        ledger=ledger,
        generated_jwt_secret=generated_secret,
        proxy=proxy,
        sizes=state_cache(settings.store.state_dir),
        failures=FailureLog(ipv6_prefix_length=settings.limits.ipv6_prefix_length),
    )


def shared_bucket(settings: Settings) -> S3Location | None:
    """With ``lock: s3``, the bucket replicas share: the configured one, else the first S3
    entry of ``mailboxes``."""
    if settings.s3.lock != "s3":
        return None
    location = default_location(settings)
    if isinstance(location, S3Location):
        return location
    resolver = mailbox_resolver(settings)
    for entry in settings.auth.mailboxes.values():
        if entry.bucket is not None:
            named = resolver.from_entry(entry)
            assert isinstance(named, S3Location)
            return named
    return None


def _check_state_dir(settings: Settings) -> None:
    """Refuse (``StateDirError``) a state-dir, or a secret in it, that another user could have
    planted, before anything is read from it."""
    state_dir = settings.store.state_dir
    check_trusted(state_dir)
    check_trusted(state_dir / "tls")
    check_private_file(state_dir / "admin-token")
    check_private_file(state_dir / "jwt-secret")
    check_private_file(state_dir / "tokens.json")
    check_private_file(state_dir / "tls" / "self-signed.key")


def default_location(settings: Settings) -> Location:
    """The mailbox of static logins: the configured bucket, else the local mail folder."""
    s3 = settings.s3
    if s3.enabled:
        assert s3.bucket is not None
        credentials = None
        if s3.access_key_id and s3.secret_access_key:
            credentials = S3Credentials(s3.access_key_id, s3.secret_access_key, s3.session_token)
        return S3Location(
            bucket=s3.bucket,
            prefix=s3.prefix,
            region=s3.region,
            endpoint_url=s3.endpoint_url,
            credentials=credentials,
            kms_endpoint_url=s3.kms_endpoint_url,
        )
    return FolderLocation(settings.store.mail_dir, settings.s3.prefix)


def open_store(
    location: Location,
    pool: S3Pool | None = None,
    *,
    trash_prefix: str | None = None,
    listings: ListingCache | None = None,
    sizes: SizeCache | None = None,
    spool_dir: Path | None = None,
) -> MessageStore:
    """The store for ``location``; S3 locations need the process's ``pool`` (and spool large
    encrypted messages into ``spool_dir``); folder listings are reused through ``listings`` and
    measured sizes through ``sizes`` when given."""
    sizes = SizeCache() if sizes is None else sizes
    match location:
        case FolderLocation():
            return FolderStore(location, listings=listings, sizes=sizes)
        case EmptyLocation():
            return EmptyStore()
        case DemoLocation():
            return demo_store()
        case S3Location():
            if pool is None:
                raise StoreUnavailable("S3 store not available (no client pool)")
            return SizedStore(
                S3Store(
                    location,
                    pool,
                    trash_prefix=trash_prefix,
                    spool_dir=spool_dir,
                ),
                sizes,
            )


class TlsTarget(Protocol):
    """Where the listeners take their TLS context from (the connection handler)."""

    tls_context: ssl.SSLContext | None


def tls_context(settings: Settings) -> tuple[ssl.SSLContext | None, str | None]:
    """The listeners' TLS context from ``settings`` and the self-signed certificate's path."""
    tls = settings.tls
    if tls.cert_pem and tls.key_pem:
        return context_from_pem(tls.cert_pem, tls.key_pem, settings.store.state_dir / "tls"), None
    if tls.cert_path and tls.key_path:
        return server_context(tls.cert_path, tls.key_path), None
    if tls.self_signed:
        files = ensure_self_signed(settings.store.state_dir)
        return server_context(files.cert, files.key), str(files.cert)
    return None, None
