"""Security probe 4: a successful POP3 login is logged (INFO ``login``: session, peer, user,
method, provider, mailbox), the counterpart of the ``login failed`` line. Before, nothing
recorded who got in: after a password leak an operator could not tell whether it was used."""

from __future__ import annotations

import logging
import poplib

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer


async def test_successful_login_is_logged_without_the_password(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    def run() -> None:
        client = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
        client.user(USER)
        client.pass_(PASSWORD)
        client.quit()

    with caplog.at_level(logging.INFO, logger="pop3srv.login"):
        await trio.to_thread.run_sync(run)
    [record] = [r for r in caplog.records if r.name == "pop3srv.login"]
    assert record.getMessage() == "login"
    fields = record.pop3srv_fields  # type: ignore[attr-defined]
    assert fields["user"] == USER and fields["method"] == "user"
    assert fields["provider"] == "static"
    assert fields["peer"].startswith("127.0.0.1:")
    assert str(fields["mailbox"]).startswith("folder:")
    assert fields["session"].startswith("s")
    assert PASSWORD not in repr(fields)
