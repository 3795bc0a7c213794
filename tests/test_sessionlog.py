"""The ``logout`` line (ops-6): every session that logged in ends with one INFO line saying
how (Dovecot's "Disconnected: Logged out"), named as the admin app names it; sessions that
never logged in get none. Real sockets against ``pop3srv serve`` with ``log-format: json``."""

from __future__ import annotations

import json
import poplib
import time
from pathlib import Path
from typing import Any

import pytest

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
