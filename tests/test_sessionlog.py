"""The ``logout`` line (ops-6): every session that logged in ends with one INFO line saying
how (Dovecot's "Disconnected: Logged out"), named as the admin app names it; sessions that
never logged in get none. Real sockets against ``pop3srv serve`` with ``log-format: json``."""

from __future__ import annotations

import json
import logging
import poplib
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from pop3srv.logsetup import fields_of
from pop3srv.protocol import events as ev
from pop3srv.registry import SessionRecord
from pop3srv.sessionlog import MailTally, session_ended
from tests.conftest import PASSWORD, USER
from tests.e2e.process import spawn_server


def logouts(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line["message"] == "logout"]


def log_in(port: int) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", port, timeout=30)
    client.user(USER)
    client.pass_(PASSWORD)
    return client


def test_each_logged_in_session_ends_with_one_logout_line(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, "--seed-welcome", POP3_LOG_FORMAT="json")
    try:
        quitting = log_in(server.plain)
        quitting.retr(1)
        quitting.quit()
        dropped = log_in(server.plain)
        dropped.sock.close()
        dropped.file.close()
        refused = poplib.POP3("127.0.0.1", server.plain, timeout=30)
        refused.user(USER)
        with pytest.raises(poplib.error_proto):
            refused.pass_("not-the-password")
        refused.quit()
        held = log_in(server.plain)  # idle between commands: a new login takes it over
        taker = log_in(server.plain)
        taker.quit()
        held.sock.close()
        held.file.close()
        time.sleep(0.5)
        stderr = server.stop()
    finally:
        if server.alive():
            server.kill()
    lines = logouts(stderr)
    outcomes = ["completed", "dropped", "taken_over", "completed"]
    assert [line["outcome"] for line in lines] == outcomes
    first = lines[0]
    assert first["user"] == USER
    assert first["peer"].startswith("127.0.0.1:")
    assert first["session"].startswith("s")
    assert first["mailbox"].startswith("folder:")
    assert first["commands"] == 4  # USER PASS RETR QUIT
    assert first["bytes"] > 0
    assert first["seconds"] >= 0
    assert lines[2]["ended_by"].startswith("taken over by a new login from 127.0.0.1")
    assert len({line["session"] for line in lines}) == 4
    assert PASSWORD not in stderr


def test_a_session_ended_by_shutdown_says_so(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, "--seed-welcome", POP3_LOG_FORMAT="json")
    try:
        waiting = log_in(server.plain)  # waiting for its next command at SIGTERM
        stderr = server.stop()
        waiting.sock.close()
        waiting.file.close()
    finally:
        if server.alive():
            server.kill()
    (line,) = logouts(stderr)
    assert (line["outcome"], line["ended_by"]) == ("timeout", "server shutting down")


def add_mail(tmp_path: Path, *bodies: bytes) -> None:
    """Messages in the static login's mail folder (``POP3_MAIL_DIR``), next to the welcome."""
    folder = tmp_path / "mail"
    folder.mkdir(exist_ok=True)
    for n, body in enumerate(bodies):
        (folder / f"extra-{n}").write_bytes(b"Subject: extra\r\n\r\n" + body)


def test_logout_counts_what_the_session_did_to_mail(tmp_path: Path) -> None:
    """Dovecot's ``top=/retr=/del=``: messages retrieved, headers read, mail octets sent,
    marks removed at QUIT, and marks kept by a session that never reached UPDATE."""
    server = spawn_server(tmp_path, "--seed-welcome", POP3_LOG_FORMAT="json")
    add_mail(tmp_path, b"one\r\n", b"two two\r\n")
    try:
        quitting = log_in(server.plain)
        assert quitting.stat()[0] == 3
        sizes = [int(item.split()[1]) for item in quitting.list()[1]]
        quitting.retr(1)
        quitting.retr(2)
        quitting.top(3, 0)
        quitting.dele(1)
        quitting.dele(2)
        quitting.quit()
        dropping = log_in(server.plain)
        assert dropping.stat()[0] == 1
        dropping.dele(1)
        dropping.sock.close()  # no QUIT: the mark is kept
        dropping.file.close()
        time.sleep(0.5)
        stderr = server.stop()
    finally:
        if server.alive():
            server.kill()
    quit_line, drop_line = logouts(stderr)
    assert (quit_line["retr"], quit_line["top"]) == (2, 1)
    assert quit_line["mail_bytes"] >= sizes[0] + sizes[1]  # whole messages plus a header
    assert (quit_line["deleted"], quit_line["kept"]) == (2, 0)
    assert (drop_line["retr"], drop_line["top"], drop_line["mail_bytes"]) == (0, 0, 0)
    assert (drop_line["deleted"], drop_line["kept"]) == (0, 1)
    assert len(list((tmp_path / "mail").iterdir())) == 1


def test_logout_text_line_reads_like_dovecots(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, "--seed-welcome")
    try:
        client = log_in(server.plain)
        client.retr(1)
        client.dele(1)
        client.quit()
        time.sleep(0.3)
        stderr = server.stop()
    finally:
        if server.alive():
            server.kill()
    (line,) = [line for line in stderr.splitlines() if "pop3srv.session: logout " in line]
    fields = dict(pair.split("=", 1) for pair in line.split(" logout ")[1].split())
    counts = [fields[name] for name in ("retr", "top", "deleted", "kept")]
    assert counts == ["1", "0", "1", "0"]
    assert int(fields["mail_bytes"]) > 0


class _CutAfter:
    """An outbox whose connection breaks at the ``limit``-th reply."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[ev.Reply] = []

    async def send(self, reply: ev.Reply) -> None:
        if len(self.sent) + 1 >= self.limit:
            raise trio.BrokenResourceError("peer gone")
        self.sent.append(reply)


async def test_a_retr_cut_mid_message_counts_what_went_out_not_the_message() -> None:
    record = SessionRecord("s1", "127.0.0.1:1", "plain")
    chunks: list[ev.Reply] = [ev.BeginData(), ev.Data(b"abcd"), ev.Data(b"efghij"), ev.EndData()]
    tally = MailTally(_CutAfter(3), record)  # the second chunk's send breaks
    with pytest.raises(trio.BrokenResourceError):
        for reply in chunks:
            await tally.send(reply)
    assert (record.retr, record.mail_bytes) == (0, 4)
    whole = MailTally(_CutAfter(99), record)
    for reply in chunks:
        await whole.send(reply)
    whole.count(top=False)
    assert (record.retr, record.top, record.mail_bytes) == (1, 0, 14)


async def test_a_retr_answered_with_err_counts_no_message() -> None:
    record = SessionRecord("s1", "127.0.0.1:1", "plain")
    tally = MailTally(_CutAfter(99), record)
    await tally.send(ev.Err("no such message"))
    tally.count(top=False)
    assert (record.retr, record.top, record.mail_bytes) == (0, 0, 0)


def test_only_a_session_waiting_for_a_command_is_ended_by_the_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A session that finished on its own while the server drained was not ended by it."""
    caplog.set_level(logging.INFO, logger="pop3srv.session")
    record = SessionRecord("s1", "127.0.0.1:1", "plain", user=USER)
    session_ended(record, "completed", shutting_down=True)
    session_ended(record, "timeout", shutting_down=True)
    ended_by = [fields_of(line).get("ended_by") for line in caplog.records]
    assert ended_by == [None, "server shutting down"]
