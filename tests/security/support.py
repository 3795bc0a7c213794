"""Helpers for the security tests: a POP3 connection handler over memory streams, and a login."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import trio
import trio.testing
from prometheus_client import CollectorRegistry
from pytest_httpserver import HTTPServer

from pop3srv.auth.base import Authenticator, AuthFailed, LoginContext, Principal
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.http import HttpCallbackAuthenticator
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.auth.static import StaticAuthenticator, StaticEntry
from pop3srv.config import PenaltySettings
from pop3srv.metrics import create_metrics
from pop3srv.registry import SessionRegistry
from pop3srv.service import open_store
from pop3srv.session import SessionDeps
from pop3srv.storage.base import FolderLocation
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3 import S3Store
from pop3srv.transport import ConnectionHandler, TransportLimits
from tests.conftest import RunningServer, start_server
from tests.s3.servers import S3Server
from tests.s3.ses import SesWriter


def static_users(tmp_path: Path, **passwords: str) -> StaticAuthenticator:
    entries = []
    for name, password in passwords.items():
        (tmp_path / name).mkdir(exist_ok=True)
        entries.append(StaticEntry(name, password, FolderLocation(tmp_path / name)))
    return StaticAuthenticator(tuple(entries))


def handler(
    authenticator: Authenticator, limits: TransportLimits | None = None, **deps: object
) -> ConnectionHandler:
    penalty = LoginPenalty(PenaltySettings(free_failures=2, start=1, maximum=15))
    session_deps = SessionDeps(
        authenticator,
        open_store,
        SessionRegistry(),
        create_metrics(CollectorRegistry()),
        penalty=penalty,
        **deps,  # type: ignore[arg-type]
    )
    limits = limits or TransportLimits(allow_insecure_auth=True, max_auth_failures=3)
    return ConnectionHandler(session_deps, limits, None)


async def line(stream: trio.abc.Stream) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some(1)
        if not chunk:
            return data
        data += chunk
    return data


def callback_auth(server: HTTPServer, client: httpx.AsyncClient) -> HttpCallbackAuthenticator:
    """The HTTP login callback at ``server``'s ``/auth``, mailboxes under ``/m``."""
    return HttpCallbackAuthenticator(
        server.url_for("/auth"), client, MailboxResolver(mail_dir=Path("/m")), timeout=10
    )


class SlowRefusals:
    """A check taking 2 s that refuses everyone, counting the checks."""

    def __init__(self) -> None:
        self.checked = 0

    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        self.checked += 1
        await trio.sleep(2)
        raise AuthFailed("invalid user name or password", reason="bad-password")


async def guess(pop3: ConnectionHandler, peer: str, user: str, replies: list[bytes]) -> None:
    """One connection from ``peer``, one wrong password for ``user``; appends the PASS reply."""
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pop3.serve_stream, server, "plain", False, peer)
        await line(client)
        await client.send_all(f"USER {user}\r\nPASS guess\r\n".encode())
        await line(client)
        replies.append(await line(client))
        await client.send_all(b"QUIT\r\n")
        await line(client)


async def login(
    pop3: ConnectionHandler, peer: str, user: str, password: str
) -> tuple[bytes, float]:
    """One connection, one USER/PASS; returns the PASS reply and how long it took."""
    client, server = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pop3.serve_stream, server, "plain", False, peer)
        await line(client)
        await client.send_all(f"USER {user}\r\n".encode())
        await line(client)
        start = trio.current_time()
        await client.send_all(f"PASS {password}\r\n".encode())
        reply = await line(client)
        elapsed = trio.current_time() - start
        await client.send_all(b"QUIT\r\n")
        await line(client)
    return reply, elapsed


async def guesses_between_successes(
    pop3: ConnectionHandler, peer: str, victim: str, success: tuple[str, str], rounds: int = 5
) -> float:
    """``rounds`` times: two wrong passwords for ``victim`` from ``peer``, then the login
    ``success`` (user, password), which must succeed. Returns the seconds the guesses waited."""
    waited = 0.0
    for round_ in range(rounds):
        for guess in range(2):
            reply, elapsed = await login(pop3, peer, victim, f"guess{round_}{guess}")
            assert reply.startswith(b"-ERR [AUTH]")
            waited += elapsed
        reply, _ = await login(pop3, peer, *success)
        assert reply.startswith(b"+OK")
    return waited


def encrypted_mailbox(server: S3Server, spool: Path, prefix: str) -> tuple[SesWriter, str, S3Store]:
    """A new bucket SES writes KMS-encrypted mail into, and a store reading ``prefix`` of it
    (spooling under ``spool``)."""
    ses = SesWriter.create(server)
    bucket = server.create_bucket()
    location = dataclasses.replace(
        server.location(bucket, prefix), kms_endpoint_url=ses.kms_endpoint_url
    )
    from tests.s3.plugin import TEST_POOL  # noqa: PLC0415 - a pytest plugin: imported late

    pool = S3Pool(create_metrics(CollectorRegistry()), TEST_POOL)
    return ses, bucket, S3Store(location, pool, spool_dir=spool)


async def jwt_mailbox_server(
    nursery: trio.Nursery, tmp_path: Path, s3: S3Server, name: str, secret: str, **env: str
) -> tuple[RunningServer, str]:
    """A pop3srv with JWT logins (``secret``) whose default mailbox is ``inbox/`` of a new
    bucket of ``s3`` (named after ``name``) holding one 20-octet message, and that bucket."""
    bucket = s3.create_bucket(name)
    s3.put(bucket, "inbox/m1", b"Subject: 1\r\n\r\nmine\r\n")
    server = await start_server(
        nursery,
        tmp_path,
        **s3.env(bucket, "inbox/"),
        POP3_AUTH_PROVIDERS="jwt",
        POP3_JWT_SECRET=secret,
        **env,
    )
    return server, bucket
