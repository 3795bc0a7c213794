"""Start-up as an operator meets it, in a real process: a busy port or a bad certificate is one
line and exit 1; a good start says which logins work, where mail is, where to connect."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.process import run_pop3srv, spawn_server


@pytest.fixture
def busy() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("key", ["admin-port", "plain-port", "tls-port"])
def test_a_busy_port_is_one_line_naming_it_and_exit_1(tmp_path: Path, busy: int, key: str) -> None:
    ports = {"admin-port": free_port(), "plain-port": free_port(), "tls-port": free_port()}
    ports[key] = busy
    env = {f"POP3_{name.upper().replace('-', '_')}": str(port) for name, port in ports.items()}
    result = run_pop3srv(tmp_path, "serve", **env)
    assert result.returncode == 1
    expected = f"pop3srv: cannot listen on 127.0.0.1:{busy} ({key}): address already in use"
    assert result.stderr.splitlines()[-1] == expected
    assert "Traceback" not in result.stderr
    assert "ExceptionGroup" not in result.stderr


def test_a_certificate_that_does_not_load_is_one_line_and_exit_1(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    key.write_text("not a key\n")
    result = run_pop3srv(
        tmp_path,
        "serve",
        POP3_TLS_CERT_PATH=str(cert),
        POP3_TLS_KEY_PATH=str(key),
        POP3_PLAIN_PORT=str(free_port()),
        POP3_TLS_PORT=str(free_port()),
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"pop3srv: cannot load certificate {cert} with key {key}: ")
    assert "not a key" not in result.stderr


def test_start_up_summary_names_login_methods_unused_keys_mailboxes_and_listeners(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.yaml").write_text(
        "jwt-secret: a-jwt-secret-of-at-least-thirty-two-chars\n"
        "mailboxes:\n"
        "  work: {bucket: ses-mail, prefix: work/, region: eu-west-1}\n"
    )
    server = spawn_server(tmp_path, POP3_ADMIN_PORT="8080")
    stderr = server.stop()
    assert "login methods: jwt, app-password" in stderr
    unused = [line for line in stderr.splitlines() if "configured but unused" in line]
    assert len(unused) == 1
    assert " WARNING " in unused[0]
    assert unused[0].endswith(": password, user; set auth-providers to use them")
    assert "log in as user" not in stderr
    assert "mailbox 'work': S3 bucket=ses-mail prefix=work/ region=eu-west-1 endpoint=aws" in stderr
    assert f"POP3 (plain, STLS) on 127.0.0.1:{server.plain}" in stderr
    assert f"POP3S (implicit TLS) on 127.0.0.1:{server.tls}" in stderr
    assert "admin app on http://127.0.0.1:" in stderr
    assert "a-jwt-secret-of-at-least" not in stderr


def test_with_json_logs_the_failure_is_a_json_line_too(tmp_path: Path, busy: int) -> None:
    result = run_pop3srv(
        tmp_path, "serve", POP3_LOG_FORMAT="json", POP3_PLAIN_PORT=str(busy), POP3_TLS_PORT="0"
    )
    assert result.returncode == 1
    last = json.loads(result.stderr.splitlines()[-1])
    assert last["level"] == "CRITICAL"
    assert (
        last["message"] == f"cannot listen on 127.0.0.1:{busy} (plain-port): address already in use"
    )
    for line in result.stderr.splitlines():
        json.loads(line)
