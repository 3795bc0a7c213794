"""Composition root: runs the POP3 listeners and the admin app, built on one ``Runtime``
(see ``pop3srv.runtime``), in one trio nursery until asked to shut down gracefully."""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial

import trio

from admin.app import create_app
from admin.audit import AUDIT_FILE, AuditLog
from admin.deps import AdminDeps, ClientInfo, ServerInfo
from admin.minting import minter_following
from admin.serve import serve_admin
from admin.tokenfile import GENERATED_TOKEN_LENGTH, ensure_admin_token
from pop3srv import __version__
from pop3srv.admission import LoginSlots
from pop3srv.auth.apppassword import app_password_id
from pop3srv.auth.ledger import Revocation
from pop3srv.config import Settings
from pop3srv.fdlimits import BackoffListener, FdBudget, raise_nofile_limit
from pop3srv.listening import listen_error
from pop3srv.netaddr import hostport
from pop3srv.registry import SessionRegistry
from pop3srv.runtime import Bound, Runtime, build_runtime, default_location, open_store
from pop3srv.session import SessionDeps
from pop3srv.transport import ConnectionHandler, TransportLimits

__all__ = ["Bound", "Runtime", "build_runtime", "default_location", "open_store", "serve"]

log = logging.getLogger(__name__)


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
    budget = FdBudget.from_limit(raise_nofile_limit(), settings.limits.max_connections)
    if budget.pop3 < settings.limits.max_connections:
        log.warning(
            "max-connections: %d lowered to %d to fit the open-files limit of %d",
            settings.limits.max_connections,
            budget.pop3,
            budget.limit,
        )
    deps = SessionDeps(
        runtime.authenticator,
        runtime.open_store,
        runtime.registry,
        runtime.metrics,
        penalty=runtime.penalty,
        logins=LoginSlots(settings.auth.penalty.max_logins_per_user),
        locks=runtime.locks,
        failures=runtime.failures,
        failed_logins=runtime.failed_logins,
        mailbox_name=runtime.mailbox_name,
        readahead=runtime.readahead,
    )
    limits = replace(TransportLimits.from_settings(settings), max_connections=budget.pop3)
    handler = ConnectionHandler(deps, limits, runtime.tls_context, runtime.proxy)
    runtime.tls_target = handler
    bound = Bound(self_signed_cert=runtime.self_signed_cert)
    async with trio.open_nursery() as background:
        await background.start(runtime.failures.run)
        if runtime.locks.remote is not None:
            await background.start(runtime.locks.remote.run)
        if runtime.ledger is not None:
            await _start_ledger(runtime, background)
        async with trio.open_nursery() as admin:
            if settings.admin.port:
                admin_port = 0 if any_free_port else settings.admin.port
                serving = partial(_serve_admin, runtime, bound, admin_port, shutdown, budget.admin)
                try:
                    bound.admin.extend(await admin.start(serving))
                except* OSError as group:
                    host = settings.admin.host
                    raise listen_error(group, host, admin_port, "admin-port") from None
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
                listeners = await _listen(port, host, "plain-port")
                bound.plain.extend(_addresses(listeners))
                serve = partial(trio.serve_listeners, handler.serve_plain, _backoff(listeners))
                await listening.start(partial(serve, handler_nursery=connections))
            if runtime.tls_context is not None and settings.listen.tls_port:
                port = 0 if any_free_port else settings.listen.tls_port
                listeners = await _listen(port, host, "tls-port")
                bound.tls.extend(_addresses(listeners))
                # the handler does the TLS (after any PROXY header, with the current context)
                serve = partial(trio.serve_listeners, handler.serve_tls, _backoff(listeners))
                await listening.start(partial(serve, handler_nursery=connections))
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
    max_connections: int,
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
        token_unguessable=token_file is not None and len(token) >= GENERATED_TOKEN_LENGTH,
        minters=minter_following(lambda: runtime.settings),
        ready=runtime.is_ready,
        client=partial(client_info, settings, bound, runtime.tls_context is not None),
        ledger=runtime.ledger,
        audit=AuditLog(settings.store.state_dir / AUDIT_FILE),
        failures=runtime.failed_logins,
        login_penalty=runtime.penalty,
        server=partial(_server_info, runtime, bound),
        allowed_hosts=(settings.admin.host, *settings.admin.allowed_hosts),
    )
    await serve_admin(
        create_app(deps),
        settings.admin.host,
        port,
        shutdown,
        graceful_timeout=settings.limits.shutdown_timeout,
        max_connections=max_connections,
        task_status=task_status,
    )


async def _start_ledger(runtime: Runtime, nursery: trio.Nursery) -> None:
    """Load the token registry, end sessions of tokens revoked (here or by another replica),
    and keep re-reading it in the background."""
    ledger = runtime.ledger
    assert ledger is not None
    ledger.listen(partial(end_revoked_sessions, runtime.registry))
    try:
        await ledger.load()
    except Exception as exc:  # S3 down at start: the refresh loop retries
        log.warning("token registry %s not read yet: %s", ledger.backend.where, exc)
    await nursery.start(ledger.run)


def end_revoked_sessions(registry: SessionRegistry, revocation: Revocation) -> None:
    """End the live sessions that logged in with a password just revoked."""
    token_id = revocation.jti or app_password_id(revocation.mailbox or "")
    ended = registry.kick_where(lambda record: record.token_id == token_id)
    if ended:
        log.info("ended %d session(s) of a revoked password: %s", len(ended), " ".join(ended))


def client_info(settings: Settings, bound: Bound, tls: bool) -> ClientInfo:
    """What the UI tells mail-client users: the ``public-*`` settings; without them this
    server's own ports, and the names of the settings to set."""
    admin = settings.admin
    missing = [] if admin.public_host else ["public-host"]
    tls_port = admin.public_tls_port or (bound.tls[0][1] if bound.tls else None)
    plain_port = admin.public_plain_port or (bound.plain[0][1] if bound.plain else None)
    if bound.tls and not admin.public_tls_port:
        missing.append("public-tls-port")
    if bound.plain and not admin.public_plain_port:
        missing.append("public-plain-port")
    return ClientInfo(
        host=admin.public_host,
        tls_port=tls_port,
        plain_port=plain_port,
        stls=tls,
        self_signed=bound.self_signed_cert is not None,
        missing=tuple(missing),
    )


def _server_info(runtime: Runtime, bound: Bound) -> ServerInfo:
    def named(addresses: list[tuple[str, int]]) -> list[str]:
        return [hostport(host, port) for host, port in addresses]

    listeners = {"tls": named(bound.tls), "plain": named(bound.plain), "admin": named(bound.admin)}
    return ServerInfo(version=__version__, started_at=runtime.started_at, listeners=listeners)


async def _listen(port: int, host: str | None, key: str) -> list[trio.SocketListener]:
    """The listeners of one POP3 port; ``ListenError`` (one line) when it cannot be bound."""
    try:
        return await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise listen_error(exc, host, port, key) from None


def _backoff(listeners: list[trio.SocketListener]) -> list[BackoffListener]:
    return [BackoffListener(listener, "POP3") for listener in listeners]


def _addresses(listeners: list[trio.SocketListener]) -> list[tuple[str, int]]:
    result = []
    for listener in listeners:
        host, port, *_ = listener.socket.getsockname()
        result.append((str(host), int(port)))
    return result
