"""SIGHUP on a real server process: a renewed certificate is used by new connections while
sessions already open (implicit TLS and STLS) carry on; a broken pair keeps the old one and the
log says why; the ``users`` table is re-read."""

from __future__ import annotations

import poplib
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from pop3srv.tls import generate_self_signed
from tests.conftest import PASSWORD, USER
from tests.e2e.process import ServerProcess, spawn_server

MESSAGE = b"Subject: hello\r\n\r\nbody\r\n"
MAILBOXES = "mailboxes:\n  bobs: {folder: bob}\n"
BOB = MAILBOXES + "users:\n  bob: {password: 'bobs password 1', mailbox: bobs}\n"


class Logged:
    """The server's stderr, read as it is written."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.lines: list[str] = []
        assert server.popen.stderr is not None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.server.popen.stderr is not None
        for line in self.server.popen.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no log line with {text!r} in:\n" + "\n".join(self.lines[-30:]))

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def stop(self) -> None:
        self.server.popen.send_signal(signal.SIGTERM)
        assert self.server.popen.wait(timeout=30) == 0
        self._thread.join(timeout=10)


def write_pair(tmp_path: Path) -> int:
    """A new certificate and key in place of the old ones; returns its serial."""
    cert, key = generate_self_signed("localhost")
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "cert.pem").write_bytes(cert)
    return int(x509.load_pem_x509_certificate(cert).serial_number)


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test reads the serial; trust is not the point
    return context


def serial_of(sock: ssl.SSLSocket) -> int:
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


def implicit(server: ServerProcess) -> poplib.POP3_SSL:
    return poplib.POP3_SSL("127.0.0.1", server.tls, context=client_context(), timeout=30)


def stls(server: ServerProcess) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.plain, timeout=30)
    client.stls(client_context())
    return client


def logged_in(client: poplib.POP3, user: str = USER, password: str = PASSWORD) -> poplib.POP3:
    client.user(user)
    client.pass_(password)
    return client


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Logged, int]]:
    serial = write_pair(tmp_path)
    (tmp_path / "mail" / "bob").mkdir(parents=True)
    (tmp_path / "mail" / "m1").write_bytes(MESSAGE)
    (tmp_path / "mail" / "bob" / "m1").write_bytes(MESSAGE)
    (tmp_path / "config.yaml").write_text(BOB)
    server = spawn_server(
        tmp_path,
        POP3_TLS_CERT_PATH=str(tmp_path / "cert.pem"),
        POP3_TLS_KEY_PATH=str(tmp_path / "key.pem"),
    )
    logged = Logged(server)
    yield logged, serial
    if server.alive():
        logged.stop()


def test_new_connections_get_the_new_certificate_and_open_sessions_survive(
    tmp_path: Path, running: tuple[Logged, int]
) -> None:
    logged, old_serial = running
    server = logged.server
    tls_session = logged_in(implicit(server))
    stls_session = logged_in(stls(server), "bob", "bobs password 1")
    assert serial_of(tls_session.sock) == old_serial  # type: ignore[arg-type]
    new_serial = write_pair(tmp_path)
    server.popen.send_signal(signal.SIGHUP)
    line = logged.wait_for("reload: new connections use certificate")
    assert f"serial {new_serial:#x}" in line
    fresh = implicit(server)
    assert serial_of(fresh.sock) == new_serial  # type: ignore[arg-type]
    fresh.quit()
    upgraded = stls(server)
    assert serial_of(upgraded.sock) == new_serial  # type: ignore[arg-type]
    upgraded.quit()
    for session in (tls_session, stls_session):  # both still serve, on the old certificate
        assert session.stat() == (1, len(MESSAGE))
        assert session.retr(1)[1] == MESSAGE.rstrip(b"\r\n").split(b"\r\n")
        assert serial_of(session.sock) == old_serial  # type: ignore[arg-type]
        session.quit()
    assert server.alive()


def test_a_broken_new_pair_keeps_the_old_certificate_and_says_why(
    tmp_path: Path, running: tuple[Logged, int]
) -> None:
    logged, old_serial = running
    server = logged.server
    session = logged_in(implicit(server))
    other_cert, _other_key = generate_self_signed("localhost")
    (tmp_path / "cert.pem").write_bytes(other_cert)  # does not match the key on disk
    server.popen.send_signal(signal.SIGHUP)
    line = logged.wait_for("keeping the current TLS certificate")
    assert " ERROR " in line
    assert "cannot load certificate" in line
    fresh = implicit(server)
    assert serial_of(fresh.sock) == old_serial  # type: ignore[arg-type]
    fresh.quit()
    assert session.stat() == (1, len(MESSAGE))
    session.quit()
    (tmp_path / "key.pem").write_text("garbage")
    server.popen.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 15
    while logged.count("keeping the current TLS certificate") < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    again = implicit(server)
    assert serial_of(again.sock) == old_serial  # type: ignore[arg-type]
    again.quit()
    assert "garbage" not in "\n".join(logged.lines)


def test_the_users_table_is_reloaded(tmp_path: Path, running: tuple[Logged, int]) -> None:
    logged, _serial = running
    server = logged.server
    bob = logged_in(stls(server), "bob", "bobs password 1")
    (tmp_path / "config.yaml").write_text(
        MAILBOXES + "users:\n  carol: {password: 'carols password 2'}\n"
    )
    server.popen.send_signal(signal.SIGHUP)
    logged.wait_for("reloaded login tables")
    logged_in(stls(server), "carol", "carols password 2").quit()
    with pytest.raises(poplib.error_proto, match="AUTH"):
        logged_in(stls(server), "bob", "bobs password 1")
    assert bob.stat() == (1, len(MESSAGE))  # the session logged in before the reload goes on
    bob.quit()
    assert "carols password" not in "\n".join(logged.lines)


def test_a_reload_with_a_bad_configuration_changes_nothing(
    tmp_path: Path, running: tuple[Logged, int]
) -> None:
    logged, _serial = running
    server = logged.server
    (tmp_path / "config.yaml").write_text("users: [not, a, table]\nidle-timeout: soon\n")
    server.popen.send_signal(signal.SIGHUP)
    line = logged.wait_for("reload refused")
    assert "idle-timeout" in line
    logged_in(stls(server), "bob", "bobs password 1").quit()
    (tmp_path / "config.yaml").write_text(BOB + "max-connections: 7\n")
    server.popen.send_signal(signal.SIGHUP)
    warning = logged.wait_for("take effect only after a restart")
    assert "changes to max-connections take" in warning  # the key (ops-6; was its group)
