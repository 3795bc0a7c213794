"""The ``login`` line names the mailbox as ``pop3srv sessions``, ``kick --mailbox`` and the
``logout`` line do (ops-6): before, it gave the lock key (``s3:http://endpoint/bucket/prefix``),
which ``kick --mailbox`` did not know."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from pop3srv.auth.base import LoginContext, Principal
from pop3srv.storage.base import Location, S3Location
from tests.security.support import handler, line

LOCATION = S3Location(bucket="mail", prefix="inbox/", region="us-east-1")


class _Granted:
    async def authenticate(self, user: str, password: str, context: LoginContext) -> Principal:
        return Principal(user, LOCATION)


def _named(location: Location) -> str:
    return f"named:{location.lock_key}"


async def test_the_login_line_uses_the_admin_apps_mailbox_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pop3 = handler(_Granted(), mailbox_name=_named)
    client, server = trio.testing.memory_stream_pair()
    with caplog.at_level(logging.INFO, logger="pop3srv.login"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pop3.serve_stream, server, "plain", False, "127.0.0.1:5")
            await line(client)
            await client.send_all(b"USER jane\r\nPASS secret\r\n")
            await line(client)
            await line(client)
            await client.send_all(b"QUIT\r\n")
            await line(client)
    [record] = [r for r in caplog.records if r.getMessage() == "login"]
    assert record.pop3srv_fields["mailbox"] == _named(LOCATION)  # type: ignore[attr-defined]
