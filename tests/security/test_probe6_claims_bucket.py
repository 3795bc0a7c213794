"""Probe 6: the ``bucket`` of a login's claims (a JWT, the HTTP callback's answer) went into
the request line of the store's own S3 client unchecked. A name with a space or a line break
was caught only there, as a ``ValueError`` that no one expected: the connection was dropped
with a traceback instead of an answer; ``?``, ``#`` or ``/`` changed the request's meaning
(another path, a query). Claims must name a bucket with S3's characters (letters, digits,
``.``, ``-``, ``_``; at most 255, as botocore allows for older buckets). The keys (CR/LF: the
same dropped connection) and the region (not a region name: ``[SYS/TEMP]`` for ever) are
checked too. Anything else is refused at login as malformed claims (``-ERR [AUTH]``, reason
``bad-claims``)."""

from __future__ import annotations

import logging
import poplib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
import trio

from pop3srv.auth.claims import MailboxResolver, MalformedClaims
from pop3srv.logsetup import fields_of
from tests.conftest import RunningServer
from tests.s3.servers import S3Server
from tests.security.support import jwt_mailbox_server

pytest_plugins = ("tests.s3.plugin",)

SECRET = "probe6-jwt-secret-0123456789abcdef0123"
BAD = ["a b", "a\r\nX-Injected: 1", "b?list-type=2", "b#x", "b/../other", "", "b" * 256, "é"]


@pytest.fixture
async def s3_server(
    nursery: trio.Nursery, tmp_path: Path, moto_s3: S3Server
) -> AsyncIterator[tuple[RunningServer, str]]:
    server, bucket = await jwt_mailbox_server(nursery, tmp_path, moto_s3, "claims", SECRET)
    yield server, bucket
    server.shutdown.set()


def _stat(port: int, bucket: str, extra: dict[str, str] | None = None) -> tuple[int, int]:
    token = jwt.encode(
        {"bucket": bucket, "prefix": "inbox/", "exp": int(time.time()) + 600, **(extra or {})},
        SECRET,
        algorithm="HS256",
    )
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    try:
        client.user("jwt")
        client.pass_(token)
        return client.stat()
    finally:
        client.close()


async def test_a_malformed_bucket_is_refused_at_login(
    s3_server: tuple[RunningServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, bucket = s3_server
    assert await trio.to_thread.run_sync(_stat, server.plain_port, bucket) == (1, 20)
    for name in BAD[:5]:
        caplog.clear()
        with caplog.at_level(logging.INFO), pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            await trio.to_thread.run_sync(_stat, server.plain_port, name)
        assert "bad-claims" in [fields_of(record).get("reason") for record in caplog.records]
        assert not [r for r in caplog.records if r.exc_info], name


@pytest.mark.parametrize("name", BAD)
def test_the_resolver_refuses_what_is_no_bucket_name(name: str) -> None:
    with pytest.raises(MalformedClaims):
        MailboxResolver().from_claims({"bucket": name})


BAD_CLAIMS = [
    {"region": "a b"},
    {"region": "evil.example/"},
    {"region": "x\r\ny"},
    {"awsAccessKeyID": "AK\r\nX-Injected: 1", "awsSecretAccessKey": "s"},
    {"awsAccessKeyID": "AK", "awsSecretAccessKey": "s e"},
    {"awsAccessKeyID": "AK", "awsSecretAccessKey": "s", "awsSessionToken": "t\r\nX: y"},
]


@pytest.mark.parametrize("extra", BAD_CLAIMS)
def test_the_resolver_refuses_regions_and_keys_that_break_requests(extra: dict[str, str]) -> None:
    with pytest.raises(MalformedClaims):
        MailboxResolver().from_claims({"bucket": "mail", **extra})


async def test_keys_with_line_breaks_are_refused_at_login(
    s3_server: tuple[RunningServer, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Before: the connection was dropped with a traceback (botocore refused the header)."""
    server, bucket = s3_server
    for extra in BAD_CLAIMS[3:]:
        caplog.clear()
        with caplog.at_level(logging.INFO), pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            await trio.to_thread.run_sync(_stat, server.plain_port, bucket, extra)
        assert not [r for r in caplog.records if r.exc_info], extra


@pytest.mark.parametrize("name", ["mail", "my.mail-bucket_2", "Legacy_Bucket", "b" * 255])
def test_bucket_names_s3_has_are_kept(name: str) -> None:
    assert MailboxResolver().from_claims({"bucket": name}).bucket == name  # type: ignore[union-attr]
