"""Composition root: builds the registry, metrics, TLS, authenticator and stores from settings,
then runs the POP3 listeners and the admin app in one trio nursery until asked to shut down
gracefully."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from functools import partial

import httpx
import trio
from prometheus_client import CollectorRegistry

from admin.app import create_app
from admin.deps import AdminDeps, ClientInfo
from admin.minting import TokenMinter
from admin.serve import serve_admin
from admin.tokenfile import ensure_admin_token
from pop3srv.auth.base import Authenticator
from pop3srv.auth.factory import build_authenticator
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config import Settings
from pop3srv.locks import MaildropLocks
from pop3srv.metrics import Metrics, create_metrics
from pop3srv.registry import SessionRegistry
from pop3srv.session import SessionDeps
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
from pop3srv.storage.folder import FolderStore
from pop3srv.storage.memory import demo_store
from pop3srv.storage.pool import PoolSettings, S3Pool
from pop3srv.storage.s3 import S3Store
from pop3srv.storage.s3lock import S3Locks
from pop3srv.tls import context_from_pem, ensure_self_signed, server_context
from pop3srv.transport import ConnectionHandler, TransportLimits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bound:
    """Where the service listens once started (real ports, also when configured as 0)."""

    plain: list[tuple[str, int]] = field(default_factory=list)
    tls: list[tuple[str, int]] = field(default_factory=list)
    self_signed_cert: str | None = None
    #: the admin app (empty when ``admin-port`` is 0)
    admin: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Runtime:
    """The process-wide objects, shared by the POP3 listeners and the admin app."""

    settings: Settings
    registry: SessionRegistry
    metrics: Metrics
    prometheus: CollectorRegistry
    tls_context: ssl.SSLContext | None
    self_signed_cert: str | None
    authenticator: Authenticator
    penalty: LoginPenalty
    http_client: httpx.AsyncClient
    #: S3 clients and worker threads shared by every S3 mailbox (and the admin app)
    pool: S3Pool
    locks: MaildropLocks
    #: set once the POP3 listeners are bound (the admin app's /readyz)
    ready: trio.Event = field(default_factory=trio.Event)

    def is_ready(self) -> bool:
        return self.ready.is_set() and not self.registry.shutting_down.is_set()

    def open_store(self, location: Location) -> MessageStore:
        """The store of a login's mailbox; S3 stores share this runtime's pool."""
        s3 = self.settings.s3
        trash = s3.trash_prefix if s3.delete_mode == "trash" else None
        return open_store(location, self.pool, trash_prefix=trash)


def build_runtime(settings: Settings, *, pool_settings: PoolSettings | None = None) -> Runtime:
    """Everything the service needs, built once from validated settings.

    ``pool_settings`` sizes the S3 client pool (tests use short timeouts and few retries).
    """
    prometheus = CollectorRegistry()
    metrics = create_metrics(prometheus)
    tls_context, cert = _tls_context(settings)
    http_client = httpx.AsyncClient(headers={"User-Agent": "pop3srv"})
    pool = S3Pool(metrics, pool_settings)
    registry = SessionRegistry()
    s3 = settings.s3
    remote = S3Locks(pool, lease=s3.lock_lease, prefix=s3.lock_prefix) if s3.lock == "s3" else None
    return Runtime(
        settings=settings,
        registry=registry,
        metrics=metrics,
        prometheus=prometheus,
        tls_context=tls_context,
        self_signed_cert=cert,
        authenticator=build_authenticator(settings, default_location(settings), http_client),
        penalty=LoginPenalty(settings.auth.penalty),
        http_client=http_client,
        pool=pool,
        locks=MaildropLocks(registry, remote),
    )


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
        )
    return FolderLocation(settings.store.mail_dir, settings.s3.prefix)


def open_store(
    location: Location, pool: S3Pool | None = None, *, trash_prefix: str | None = None
) -> MessageStore:
    """The store for ``location``; S3 locations need the process's ``pool``."""
    match location:
        case FolderLocation():
            return FolderStore(location)
        case EmptyLocation():
            return EmptyStore()
        case DemoLocation():
            return demo_store()
        case S3Location():
            if pool is None:
                raise StoreUnavailable("S3 store not available (no client pool)")
            return S3Store(location, pool, trash_prefix=trash_prefix)


async def serve(
    runtime: Runtime,
    shutdown: trio.Event,
    *,
    any_free_port: bool = False,
    task_status: trio.TaskStatus[Bound] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve POP3 (and the admin app unless ``admin-port`` is 0) until ``shutdown`` is set,
    then drain both within ``shutdown-timeout``.

    ``any_free_port`` binds every enabled listener to a port the system picks (tests).
    """
    settings = runtime.settings
    deps = SessionDeps(
        runtime.authenticator,
        runtime.open_store,
        runtime.registry,
        runtime.metrics,
        penalty=runtime.penalty,
        locks=runtime.locks,
    )
    limits = settings.limits
    handler = ConnectionHandler(
        deps,
        TransportLimits(
            idle_timeout=limits.idle_timeout,
            login_timeout=limits.login_timeout,
            max_connections=limits.max_connections,
            max_connections_per_ip=limits.max_connections_per_ip,
            max_bad_commands=limits.max_bad_commands,
            allow_insecure_auth=settings.auth.allow_insecure_auth,
            max_auth_failures=settings.auth.penalty.max_auth_failures,
        ),
        runtime.tls_context,
    )
    bound = Bound(self_signed_cert=runtime.self_signed_cert)
    async with trio.open_nursery() as background:
        if runtime.locks.remote is not None:
            await background.start(runtime.locks.remote.run)
        async with trio.open_nursery() as admin:
            if settings.admin.port:
                admin_port = 0 if any_free_port else settings.admin.port
                bound.admin.extend(
                    await admin.start(partial(_serve_admin, runtime, bound, admin_port, shutdown))
                )
            await _serve_pop3(
                runtime,
                handler,
                bound,
                shutdown,
                any_free_port=any_free_port,
                task_status=task_status,
            )
        background.cancel_scope.cancel()


async def _serve_pop3(
    runtime: Runtime,
    handler: ConnectionHandler,
    bound: Bound,
    shutdown: trio.Event,
    *,
    any_free_port: bool,
    task_status: trio.TaskStatus[Bound],
) -> None:
    settings = runtime.settings
    host = settings.listen.host or None
    limits = settings.limits
    async with trio.open_nursery() as connections:
        async with trio.open_nursery() as listening:
            if settings.listen.plain_port:
                port = 0 if any_free_port else settings.listen.plain_port
                listeners = await listening.start(
                    partial(
                        trio.serve_tcp,
                        handler.serve_plain,
                        port,
                        host=host,
                        handler_nursery=connections,
                    )
                )
                bound.plain.extend(_addresses(listeners))
            if runtime.tls_context is not None and settings.listen.tls_port:
                port = 0 if any_free_port else settings.listen.tls_port
                listeners = await listening.start(
                    partial(
                        trio.serve_ssl_over_tcp,
                        handler.serve_tls,
                        port,
                        runtime.tls_context,
                        host=host,
                        https_compatible=True,
                        handler_nursery=connections,
                    )
                )
                bound.tls.extend(_addresses(listeners))
            runtime.ready.set()
            task_status.started(bound)
            await shutdown.wait()
            listening.cancel_scope.cancel()
        log.info("shutting down: %d sessions to drain", len(runtime.registry))
        runtime.registry.drain()
        connections.cancel_scope.deadline = trio.current_time() + limits.shutdown_timeout
    with trio.CancelScope(shield=True):
        await runtime.http_client.aclose()


async def _serve_admin(
    runtime: Runtime,
    bound: Bound,
    port: int,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The admin app on ``admin-host:port``, sharing this runtime's registry and metrics."""
    settings = runtime.settings
    token, token_file = ensure_admin_token(settings.admin.token, settings.store.state_dir)
    if token_file is not None:
        log.info("admin token: in %s", token_file)
    deps = AdminDeps(
        registry=runtime.registry,
        prometheus=runtime.prometheus,
        metrics=runtime.metrics,
        token=token,
        minter=TokenMinter.from_settings(settings),
        ready=runtime.is_ready,
        client=partial(_client_info, settings, bound, runtime.tls_context is not None),
    )
    await serve_admin(
        create_app(deps),
        settings.admin.host,
        port,
        shutdown,
        graceful_timeout=settings.limits.shutdown_timeout,
        task_status=task_status,
    )


def _client_info(settings: Settings, bound: Bound, tls: bool) -> ClientInfo:
    host = settings.listen.host
    return ClientInfo(
        host=None if host in ("", "0.0.0.0", "::") else host,
        tls_port=bound.tls[0][1] if bound.tls else None,
        plain_port=bound.plain[0][1] if bound.plain else None,
        stls=tls,
        self_signed=bound.self_signed_cert is not None,
    )


def _addresses(listeners: list[trio.SocketListener]) -> list[tuple[str, int]]:
    result = []
    for listener in listeners:
        inner = listener.transport_listener if isinstance(listener, trio.SSLListener) else listener
        assert isinstance(inner, trio.SocketListener)
        host, port, *_ = inner.socket.getsockname()
        result.append((str(host), int(port)))
    return result


def _tls_context(settings: Settings) -> tuple[ssl.SSLContext | None, str | None]:
    tls = settings.tls
    if tls.cert_pem and tls.key_pem:
        return context_from_pem(tls.cert_pem, tls.key_pem, settings.store.state_dir / "tls"), None
    if tls.cert_path and tls.key_path:
        return server_context(tls.cert_path, tls.key_path), None
    if tls.self_signed:
        files = ensure_self_signed(settings.store.state_dir)
        return server_context(files.cert, files.key), str(files.cert)
    return None, None
