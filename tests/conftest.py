"""Shared fixtures: a pop3srv service running in-process on 127.0.0.1 with free ports."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import trio

from pop3srv.config import load_settings
from pop3srv.service import Bound, Runtime, build_runtime, serve

USER = "alice"
PASSWORD = "s3cret pass"


@dataclass
class RunningServer:
    runtime: Runtime
    bound: Bound
    mail_dir: Path
    shutdown: trio.Event

    @property
    def plain_port(self) -> int:
        return self.bound.plain[0][1]

    @property
    def tls_port(self) -> int:
        return self.bound.tls[0][1]

    def client_tls_context(self) -> ssl.SSLContext:
        assert self.bound.self_signed_cert is not None
        context = ssl.create_default_context(cafile=self.bound.self_signed_cert)
        context.check_hostname = True
        return context


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "POP3_HOST": "127.0.0.1",
        "POP3_MAIL_DIR": str(tmp_path / "mail"),
        "POP3_STATE_DIR": str(tmp_path / "state"),
        "POP3_USER": USER,
        "POP3_PASSWORD": PASSWORD,
        "POP3_ADMIN_PORT": "0",
    }
    env.update(extra)
    return env


async def start_server(nursery: trio.Nursery, tmp_path: Path, **extra: str) -> RunningServer:
    settings = load_settings(
        server_env(tmp_path, **extra), cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc"
    )
    runtime = build_runtime(settings)
    shutdown = trio.Event()
    bound = await nursery.start(partial(serve, runtime, shutdown, any_free_port=True))
    return RunningServer(runtime, bound, settings.store.mail_dir, shutdown)


@pytest.fixture
async def server(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[RunningServer]:
    running = await start_server(nursery, tmp_path)
    yield running
    running.shutdown.set()


def free_port() -> int:
    """A port the system just handed out on 127.0.0.1, for a configuration that must name it
    (a file read by another process, a load balancer's backend); never a fixed number."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
