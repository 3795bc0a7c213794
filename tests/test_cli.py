"""The ``pop3srv`` command as a user runs it: serve until SIGTERM, check-config exit codes."""

from __future__ import annotations

import gc
import poplib
import subprocess
from pathlib import Path

from pytest_httpserver import HTTPServer

from pop3srv import cli
from tests.conftest import PASSWORD, USER
from tests.e2e.process import run_pop3srv, spawn_server


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_pop3srv(tmp_path, *args, **extra)


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
    server = spawn_server(tmp_path, "--seed-welcome")
    try:
        client = poplib.POP3("127.0.0.1", server.plain, timeout=10)
        client.user(USER)
        client.pass_(PASSWORD)
        assert client.stat()[0] == 1  # the welcome message
        client.quit()
        err = server.stop()  # exit status 0
    finally:
        if server.alive():
            server.kill()
    assert "draining" in err
    assert PASSWORD not in err


def test_verbose_logs_show_no_secrets(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/auth").respond_with_json({"provider": "demo"})
    url = httpserver.url_for("/auth") + "?apikey=QUERYSECRET42"
    server = spawn_server(tmp_path, POP3_VERBOSE="true", POP3_HTTP_BASIC_AUTH_URL=url)
    try:
        client = poplib.POP3("127.0.0.1", server.plain, timeout=10)
        client.user("jane")
        client.pass_("PASSWORDSECRET77")
        assert client.retr(1)[1]  # the demo message: its body must not be logged either
        client.quit()
        err = server.stop()
    finally:
        if server.alive():
            server.kill()
    assert "DEBUG" in err  # verbose logging was on
    for secret in ("QUERYSECRET42", "PASSWORDSECRET77", "demo mailbox: your client"):
        assert secret not in err


def test_serve_freezes_what_start_up_loaded_and_keeps_the_gc_thresholds() -> None:
    """``serve``'s GC tuning: start-up's objects frozen (full collections skip them); the
    young generation's threshold left alone (raised, dropped TLS connections' garbage
    cycles held their buffers far longer: docs/benchmarks.md, perf-5)."""
    thresholds = gc.get_threshold()
    try:
        cli._tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == thresholds
    finally:
        gc.unfreeze()
