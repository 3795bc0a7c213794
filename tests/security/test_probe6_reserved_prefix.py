"""Probe 6: a login's claims (a JWT, or the HTTP callback's answer) may name any bucket and
prefix, and were not checked against the prefixes the server keeps for itself: ``lock-prefix``
(the S3 maildrop locks of every mailbox of the bucket, and the token registry
``tokens.json``) and, in trash mode, ``trash-prefix`` (every mailbox's deleted mail).
check-config refuses such a prefix in the ``mailboxes`` table and for the default mailbox
(12356e7), but claims come at login. A callback that maps user names to prefixes
(``<user>/``) handed the user ``.pop3srv-locks`` the registry and every lock (they read
mailbox names and token ids, and DELE forges lock releases: two replicas then serve one
maildrop), and the user ``trash`` everyone's deleted mail. Such claims are refused now like
malformed ones (``-ERR [AUTH]``, reason ``bad-claims``)."""

from __future__ import annotations

import logging
import poplib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
import trio

from pop3srv.auth.base import AuthFailed
from pop3srv.auth.factory import mailbox_resolver
from pop3srv.logsetup import fields_of
from pop3srv.storage.base import S3Location
from tests.admin.conftest import load
from tests.conftest import RunningServer
from tests.s3.servers import S3Server
from tests.security.support import jwt_mailbox_server

pytest_plugins = ("tests.s3.plugin",)

SECRET = "probe6-jwt-secret-0123456789abcdef0123"


def _token(**claims: str) -> str:
    return jwt.encode({**claims, "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")


@pytest.fixture
async def s3_server(
    nursery: trio.Nursery, tmp_path: Path, moto_s3: S3Server
) -> AsyncIterator[tuple[RunningServer, str]]:
    server, bucket = await jwt_mailbox_server(
        nursery, tmp_path, moto_s3, "reserved", SECRET, POP3_LOCK="s3", POP3_DELETE_MODE="trash"
    )
    moto_s3.put(bucket, "trash/other/m9", b"Subject: 9\r\n\r\nsomeone's deleted\r\n")
    yield server, bucket
    server.shutdown.set()


def _login(port: int, token: str) -> list[bytes]:
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    try:
        client.user("jwt")
        client.pass_(token)
        return list(client.uidl()[1])
    finally:
        client.quit()


@pytest.mark.parametrize(
    "prefix", [".pop3srv-locks/", ".pop3srv-locks", "/.pop3srv-locks/", "trash/other/"]
)
async def test_claims_cannot_name_the_servers_own_prefixes(
    s3_server: tuple[RunningServer, str], prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, bucket = s3_server
    port = server.plain_port
    # a legitimate login first: its lock object is under the lock prefix
    assert await trio.to_thread.run_sync(_login, port, _token(bucket=bucket, prefix="inbox/"))
    with caplog.at_level(logging.INFO), pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        listed = await trio.to_thread.run_sync(_login, port, _token(bucket=bucket, prefix=prefix))
        pytest.fail(f"logged in to {prefix!r} and listed {listed}")
    reasons = [fields_of(record).get("reason") for record in caplog.records]
    assert "bad-claims" in reasons


def test_the_resolver_refuses_reserved_prefixes_in_any_bucket(tmp_path: Path) -> None:
    settings = load(tmp_path, POP3_DELETE_MODE="trash")
    resolver = mailbox_resolver(settings)
    for prefix in (".pop3srv-locks/", ".pop3srv-locks/x/", "trash/", "//trash", "trash/inbox/"):
        with pytest.raises(AuthFailed):
            resolver.from_claims({"bucket": "any", "prefix": prefix})
    for prefix in ("", "inbox/", ".pop3srv-locksmith/", "users/.pop3srv-locks/", "trashcan/"):
        location = resolver.from_claims({"bucket": "any", "prefix": prefix})
        assert isinstance(location, S3Location) and location.prefix == prefix
