"""Logins whose mailbox names no S3 keys (a `mailboxes` entry without keys, a JWT naming only a
bucket) use the configured aws-access-key-id/aws-secret-access-key, end to end against
SeaweedFS, which checks signatures; the AWS default chain is made to find nothing."""

from __future__ import annotations

import json
import poplib
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
import trio

from tests.conftest import RunningServer, start_server
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

SECRET = "a-jwt-secret-of-at-least-32-bytes-zz9"
MESSAGE = b"Subject: fallback\r\n\r\nserved with the configured keys\r\n"


@pytest.fixture
async def keyed_server(
    nursery: trio.Nursery, tmp_path: Path, seaweedfs: S3Server, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RunningServer, str, str]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    default, other = seaweedfs.create_bucket("default"), seaweedfs.create_bucket("other")
    seaweedfs.put(other, "inbox/m1", MESSAGE)
    env = seaweedfs.env(default) | {
        "POP3_JWT_SECRET": SECRET,
        "POP3_MAILBOXES": json.dumps({"shared": {"bucket": other, "prefix": "inbox/"}}),
    }
    running = await start_server(nursery, tmp_path, **env)
    yield running, other, seaweedfs.region
    running.shutdown.set()


def _stat(server: RunningServer, password: str) -> tuple[int, int]:
    client = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
    try:
        client.user("jane")
        client.pass_(password)
        return client.stat()
    finally:
        client.quit()


@pytest.mark.parametrize("claims", ["mailbox", "bucket"])
async def test_keyless_mailboxes_use_the_configured_keys(
    keyed_server: tuple[RunningServer, str, str], claims: str
) -> None:
    server, bucket, region = keyed_server
    if claims == "mailbox":
        token = jwt.encode({"mailbox": "shared"}, SECRET)
    else:
        token = jwt.encode({"bucket": bucket, "prefix": "inbox/", "region": region}, SECRET)
    assert await trio.to_thread.run_sync(_stat, server, token) == (1, len(MESSAGE))
