"""Runs the admin app with ``hypercorn.trio.serve`` inside the caller's nursery.

No second event loop and no thread: Hypercorn's own graceful shutdown is driven by the service's
shutdown event. When it fires, live websockets are told to close with 1001 first (Hypercorn
would otherwise cut them with 1006 at the end of ``graceful_timeout``), then Hypercorn stops
accepting, lets requests in flight finish, and returns.
"""

from __future__ import annotations

import logging
from functools import partial
from urllib.parse import urlsplit

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import Quart

from admin.auth import is_loopback
from admin.deps import admin_context

log = logging.getLogger(__name__)


def bind_address(host: str, port: int) -> str:
    """Hypercorn's ``host:port`` form (IPv6 in brackets; "" = all IPv4 interfaces)."""
    host = host or "0.0.0.0"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_binds(binds: list[str]) -> list[tuple[str, int]]:
    """``['http://127.0.0.1:8080']`` -> ``[('127.0.0.1', 8080)]``."""
    result = []
    for bind in binds:
        parts = urlsplit(bind)
        assert parts.hostname is not None and parts.port is not None, bind
        result.append((parts.hostname, parts.port))
    return result


async def serve_admin(
    app: Quart,
    host: str,
    port: int,
    shutdown: trio.Event,
    *,
    graceful_timeout: float = 10.0,
    task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` (0: a free port) until ``shutdown`` is set; reports the
    bound ``(host, port)`` pairs through ``task_status``."""
    ctx = admin_context(app)
    config = Config()
    config.bind = [bind_address(host, port)]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False

    async def shutdown_trigger() -> None:
        await shutdown.wait()
        ctx.closing.set()

    if not is_loopback(host):
        log.warning(
            "the admin app listens on %s over plain HTTP: put a TLS proxy in front of it "
            "(its login cookie is sent without Secure there)",
            host or "all interfaces",
        )

    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(serve, app, config, shutdown_trigger=shutdown_trigger)
        )
        task_status.started(parse_binds(binds))
