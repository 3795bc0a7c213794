"""The ``pop3srv`` command as a user runs it: serve until SIGTERM, check-config exit codes."""

from __future__ import annotations

import json
import os
import poplib
import signal
import subprocess
import sys
import time
from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.conftest import PASSWORD, USER, server_env


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("POP3_")}
    base["HOME"] = str(tmp_path)
    return {**base, **server_env(tmp_path, **extra)}


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pop3srv", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_prints_effective_values_without_secrets(tmp_path: Path) -> None:
    result = _run(tmp_path, "check-config")
    assert result.returncode == 0, result.stderr
    assert "plain-port" in result.stdout
    assert PASSWORD not in result.stdout


def test_check_config_bad_port_exits_2_naming_key_and_source(tmp_path: Path) -> None:
    result = _run(tmp_path, "check-config", POP3_PLAIN_PORT="70000")
    assert result.returncode == 2
    assert "plain-port" in result.stderr
    assert "POP3_PLAIN_PORT" in result.stderr


def test_serve_with_bad_config_exits_2(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", POP3_TLS_CERT_PATH=str(tmp_path / "missing.crt"))
    assert result.returncode == 2
    assert "tls-cert-path" in result.stderr


def test_serve_answers_then_drains_on_sigterm(tmp_path: Path) -> None:
    ports_file = tmp_path / "ports.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pop3srv",
            "serve",
            "--any-free-port",
            "--seed-welcome",
            "--ports-file",
            str(ports_file),
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ports_file.exists() or not ports_file.read_text():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        ports = json.loads(ports_file.read_text())
        client = poplib.POP3("127.0.0.1", ports["plain"][0][1], timeout=10)
        client.user(USER)
        client.pass_(PASSWORD)
        assert client.stat()[0] == 1  # the welcome message
        client.quit()
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "draining" in err
    assert PASSWORD not in err


def test_verbose_logs_show_no_secrets(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/auth").respond_with_json({"provider": "demo"})
    url = httpserver.url_for("/auth") + "?apikey=QUERYSECRET42"
    ports_file = tmp_path / "ports.json"
    env = _env(tmp_path, POP3_VERBOSE="true", POP3_HTTP_BASIC_AUTH_URL=url)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pop3srv",
            "serve",
            "--any-free-port",
            "--ports-file",
            str(ports_file),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ports_file.exists() or not ports_file.read_text():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        port = json.loads(ports_file.read_text())["plain"][0][1]
        client = poplib.POP3("127.0.0.1", port, timeout=10)
        client.user("jane")
        client.pass_("PASSWORDSECRET77")
        assert client.retr(1)[1]  # the demo message: its body must not be logged either
        client.quit()
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert "DEBUG" in err  # verbose logging was on
    for secret in ("QUERYSECRET42", "PASSWORDSECRET77", "demo mailbox: your client"):
        assert secret not in err
