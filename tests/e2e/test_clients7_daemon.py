"""fetchmail in daemon mode against a wrong password, then the user fixing it (round 7,
docs/notes/clients-7.md).

A fetchmail daemon polling every second with a wrong password is what pop3srv's login
penalties are for: the failures from its address get growing delays (Dovecot style), the
daemon waits them out (its timeout is longer than login-penalty-max) and shows the
server's ``-ERR [AUTH]`` text each time (with ``--verbose``). When the user corrects the
password in .fetchmailrc, the daemon restarts itself and must fetch the mail: the penalty
slows that login down but does not refuse it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from tests.conftest import PASSWORD
from tests.e2e import test_clients_fetchmail as fetchmail
from tests.e2e.clients import client_env, make_mda, stored_messages, trust_file, write_private
from tests.e2e.process import ServerProcess, spawn_logging_server

LOGIN = "jane.doe+pop@example.com"
BODY = b"Subject: waiting\r\n\r\nfor the right password\r\n"


@dataclass(frozen=True)
class Daemon:
    server: ServerProcess
    log: Path


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("daemon7")
    (tmp / "mail" / "box").mkdir(parents=True)
    (tmp / "mail" / "box" / "m1").write_bytes(BODY)
    process = spawn_logging_server(
        tmp,
        POP3_MAILBOXES=json.dumps({"box": {"folder": "box"}}),
        POP3_USERS=json.dumps({LOGIN: {"password": PASSWORD, "mailbox": "box"}}),
        POP3_LOGIN_PENALTY_START="0.2",
        POP3_LOGIN_PENALTY_MAX="1",
    )
    try:
        yield Daemon(process, tmp / "log")
    finally:
        process.stop()


def _rc(daemon: Daemon, mda: Path, password: str) -> str:
    return fetchmail._rcfile(
        daemon.server, "tls", mda=mda, keep=True, password=password,
        trust=trust_file(daemon.server), user=LOGIN,
    )  # fmt: skip


def _crlf(message: bytes) -> bytes:
    return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


async def _until(condition: object, seconds: float = 60) -> None:
    assert callable(condition)
    with trio.fail_after(seconds):
        while not condition():
            await trio.sleep(0.1)


async def test_fetchmail_daemon_waits_out_penalties_then_fetches_with_the_fixed_password(
    daemon: Daemon, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    out = tmp_path / "delivered"
    mda = make_mda(tmp_path, out)
    rcfile = write_private(tmp_path / "fetchmailrc", _rc(daemon, mda, "not the password"))
    assert fetchmail.FETCHMAIL is not None
    # stdbuf: fetchmail's stdout is a file here, fully buffered, and SIGTERM ends it
    command = [
        "stdbuf", "-oL", "-eL", fetchmail.FETCHMAIL, "--fetchmailrc", str(rcfile),
        "--pidfile", str(home / "pid"), "--nosyslog", "--verbose", "--daemon", "1", "--nodetach",
    ]  # fmt: skip
    log = tmp_path / "fetchmail.log"
    with log.open("wb") as sink:
        child = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=client_env(home, FETCHMAILHOME=str(home)),
            cwd=tmp_path,
        )
    try:
        await _until(lambda: daemon.log.read_text().count("reason=bad-password") >= 4)
        assert "further logins from this address are delayed" in daemon.log.read_text()
        # the user fixes the password; fetchmail notices the changed file and restarts
        fixed = write_private(tmp_path / "fixed", _rc(daemon, mda, PASSWORD))
        fixed.replace(rcfile)
        await _until(lambda: any(BODY in _crlf(m) for m in stored_messages(out)))
    finally:
        child.terminate()
        child.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert text.count("-ERR [AUTH] invalid user name or password") >= 4, text[-3000:]
    assert "restarting fetchmail" in text, text[-3000:]
    assert "timeout" not in text.lower() and "socket error" not in text.lower(), text[-3000:]
    # after three failures fetchmail mails the user a notice of its own through the MDA
    notices = [m for m in stored_messages(out) if BODY not in _crlf(m)]
    assert [b"Subject: fetchmail authentication failed" in m for m in notices] == [True]
    assert sum(BODY in _crlf(m) for m in stored_messages(out)) == 1
