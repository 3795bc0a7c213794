"""The S3 check at start-up (ops-7): a real ``pop3srv serve`` against SeaweedFS logs, after
its listeners are up, one INFO line per S3 mailbox that answers and one WARNING line with a
hint per problem (missing bucket, wrong keys, endpoint down); start-up never fails for it."""

from __future__ import annotations

import json
import logging
import poplib
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from pop3srv.runtime import default_location
from pop3srv.startcheck import check_s3
from pop3srv.storage.base import S3Location
from tests.conftest import PASSWORD, USER, free_port, start_server
from tests.e2e.process import ServerProcess, spawn_logging_server
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

CHECKED = ("S3 mailbox reachable", "S3 mailbox check at start-up failed")


def checked_lines(server: ServerProcess, count: int = 1) -> list[dict[str, Any]]:
    """The start-up check's lines, once ``count`` are in the log (the check runs after the
    listeners are up); then the server is stopped (exit status 0)."""
    assert server.log is not None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if len(_lines(server.log.read_text(errors="replace"))) >= count:
                break
            time.sleep(0.1)
        log = server.stop()
    finally:
        if server.alive():
            server.kill()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    messages = [line["message"] for line in lines]
    found = _lines(log)
    assert found, log[-3000:]
    first = min(messages.index(m) for m in CHECKED if m in messages)
    assert any(m.startswith("POP3 (plain, STLS) on ") for m in messages[:first]), messages
    return found


def _lines(log: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line["message"] in CHECKED]


def serve(tmp_path: Path, env: dict[str, str]) -> ServerProcess:
    return spawn_logging_server(tmp_path, POP3_LOG_FORMAT="json", **env)


def test_a_reachable_bucket_is_one_info_line(tmp_path: Path, seaweedfs: S3Server) -> None:
    bucket = seaweedfs.create_bucket()
    server = serve(tmp_path, seaweedfs.env(bucket, "inbox/"))
    client = poplib.POP3("127.0.0.1", server.plain, timeout=30)  # serving meanwhile
    client.user(USER)
    client.pass_(PASSWORD)
    client.quit()
    (line,) = checked_lines(server)
    assert line["level"] == "INFO"
    assert (line["mailbox"], line["bucket"], line["prefix"]) == ("(default)", bucket, "inbox/")
    assert line["endpoint"] == seaweedfs.endpoint_url


def test_a_missing_bucket_is_a_warning_with_a_hint(tmp_path: Path, seaweedfs: S3Server) -> None:
    server = serve(tmp_path, seaweedfs.env("no-such-bucket-ops7", "inbox/"))
    (line,) = checked_lines(server)
    assert line["level"] == "WARNING"
    where = (line["bucket"], line["prefix"], line["code"])
    assert where == ("no-such-bucket-ops7", "inbox/", "NoSuchBucket")
    assert "aws-s3-bucket" in line["hint"]
    assert line["endpoint"] == seaweedfs.endpoint_url


def test_wrong_keys_are_a_warning_with_a_hint(tmp_path: Path, seaweedfs: S3Server) -> None:
    bucket = seaweedfs.create_bucket()
    env = seaweedfs.env(bucket) | {"POP3_AWS_SECRET_ACCESS_KEY": "not-the-secret-key-0001"}
    server = serve(tmp_path, env)
    (line,) = checked_lines(server)
    assert line["level"] == "WARNING"
    assert line["code"] == "SignatureDoesNotMatch"
    assert "aws-secret-access-key" in line["hint"]
    assert "not-the-secret-key-0001" not in json.dumps(line)


def test_an_endpoint_down_is_a_warning_and_start_up_goes_on(
    tmp_path: Path, seaweedfs: S3Server
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    server = serve(tmp_path, seaweedfs.env("mail", endpoint_url=closed))
    client = poplib.POP3("127.0.0.1", server.plain, timeout=30)  # up, S3 or not
    assert client.getwelcome().startswith(b"+OK")
    client.quit()
    (line,) = checked_lines(server)
    assert line["level"] == "WARNING"
    assert line["endpoint"] == closed
    assert line["code"] == "EndpointConnectionError"
    assert "unreachable" in line["hint"]


async def test_the_check_uses_the_shared_pool_and_ends_at_shutdown(
    tmp_path: Path, seaweedfs: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    """The check lists with the runtime's pooled client (the one logins then reuse, closed
    with the pool), not a client of its own; set at shutdown, it returns at once."""
    bucket = seaweedfs.create_bucket()
    caplog.set_level(logging.INFO, "pop3srv.startcheck")
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery, tmp_path, **seaweedfs.env(bucket, "inbox/"))
        pool = server.runtime.pool
        await check_s3(server.runtime, server.shutdown)
        location = default_location(server.runtime.settings)
        assert isinstance(location, S3Location)
        assert pool.cache_keys() == [pool.key(location)]
        assert pool.clients_created == 1
        stopped = trio.Event()
        stopped.set()
        with trio.fail_after(1):  # shutting down: the check ends at once, with no line
            await check_s3(server.runtime, stopped)
        server.shutdown.set()
    messages = [r.getMessage() for r in caplog.records if r.name == "pop3srv.startcheck"]
    assert [m.split(" ", 3)[:3] for m in messages] == [["S3", "mailbox", "reachable"]]
