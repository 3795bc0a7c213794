"""TLS handshakes that fail are in the log (ops-7), as Dovecot's "TLS handshaking:
SSL_accept() failed" is: a client refusing the certificate, a plaintext client on the TLS
port, one offering only old TLS versions. One INFO line per address and reason and minute,
with OpenSSL's reason and a hint; a client that connects and closes says nothing. Real
sockets against ``pop3srv serve`` with ``log-format: json``."""

from __future__ import annotations

import json
import poplib
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.process import ServerProcess, spawn_server


def tls_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line["message"] == "TLS handshake failed"]


def untrusting_client(server: ServerProcess) -> None:
    """The default context: the server's self-signed certificate is not trusted."""
    with pytest.raises(ssl.SSLCertVerificationError):
        poplib.POP3_SSL("127.0.0.1", server.tls, context=ssl.create_default_context(), timeout=30)


def plaintext_client(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.tls), timeout=30) as sock:
        sock.sendall(b"USER alice\r\nPASS secret\r\n")
        with pytest.raises(OSError):
            if not sock.recv(100):
                raise ConnectionResetError


def old_client(server: ServerProcess) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        poplib.POP3_SSL("127.0.0.1", server.tls, context=context, timeout=30)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_failed_handshakes_are_logged_with_a_hint(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, POP3_LOG_FORMAT="json")
    try:
        untrusting_client(server)
        untrusting_client(server)  # the same again within the minute: counted, not repeated
        plaintext_client(server)
        old_client(server)
        socket.create_connection(("127.0.0.1", server.tls), timeout=30).close()  # health check
        time.sleep(0.5)
        stderr = server.stop()
    finally:
        if server.alive():
            server.kill()
    lines = tls_lines(stderr)
    by_hint = {line["reason"]: line["hint"] for line in lines}
    assert len(lines) == 3, lines
    reasons = [line["reason"] for line in lines]
    assert reasons == ["TLSV1_ALERT_UNKNOWN_CA", "WRONG_VERSION_NUMBER", "UNSUPPORTED_PROTOCOL"]
    untrusted, plaintext, old = lines
    assert untrusted["peer"].startswith("127.0.0.1:")
    assert untrusted["listener"] == "tls"
    assert "does not accept the certificate" in by_hint[untrusted["reason"]]
    assert "plaintext client on the implicit-TLS port" in by_hint[plaintext["reason"]]
    assert "TLS 1.2+" in by_hint[old["reason"]]


def test_a_failed_stls_handshake_is_logged(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, POP3_LOG_FORMAT="json")
    try:
        client = poplib.POP3("127.0.0.1", server.plain, timeout=30)
        with pytest.raises(ssl.SSLCertVerificationError):
            client.stls(ssl.create_default_context())
        time.sleep(0.5)
        stderr = server.stop()
    finally:
        if server.alive():
            server.kill()
    (line,) = tls_lines(stderr)
    assert line["listener"] == "stls"
    assert "does not accept the certificate" in line["hint"]
