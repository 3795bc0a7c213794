"""``proxy-protocol`` on a real server process: v1 and v2 headers from a trusted balancer set the
client's address (admin session list, login penalties, logs); untrusted sources and bad headers
are refused quietly, without a traceback."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, USER
from tests.e2e.process import ServerProcess, spawn_server
from tests.proxy.headers import (
    ProxiedPOP3,
    ProxiedPOP3SSL,
    tls_greeting_with_header_in_one_segment,
    v1,
    v2,
)

ADMIN_TOKEN = "admin-token-for-proxy-tests-0001"
CLIENT_V4 = ("192.0.2.9", 40001)
CLIENT_V6 = ("2001:db8::9", 40002)


def proxied_env(trusted: str = "127.0.0.1/32", **extra: str) -> dict[str, str]:
    return {
        "POP3_PROXY_PROTOCOL": "true",
        "POP3_PROXY_TRUSTED": json.dumps([trusted]),
        "POP3_ADMIN_PORT": "8080",
        "POP3_ADMIN_TOKEN": ADMIN_TOKEN,
        "POP3_LOG_FORMAT": "json",
        "POP3_LOGIN_TIMEOUT": "3",
        **extra,
    }


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[ServerProcess, int]]:
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "m1").write_bytes(b"Subject: hi\r\n\r\nhello\r\n")
    server = spawn_server(tmp_path, **proxied_env())
    admin = json.loads((tmp_path / "ports.json").read_text())["admin"][0][1]
    yield server, admin
    if server.alive():
        server.stop()


def sessions(admin: int) -> list[dict[str, Any]]:
    response = httpx.get(
        f"http://127.0.0.1:{admin}/api/sessions",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()
    return result


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def closed_without_greeting(port: int, *sends: bytes, wait: float = 0.0) -> bool:
    """Send these pieces (pausing ``wait`` between them); True if the server closes without
    having sent a byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        for piece in sends:
            sock.sendall(piece)
            time.sleep(wait)
        try:
            return sock.recv(1024) == b""
        except ConnectionResetError:
            return True


def json_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("header", "peer"),
    [
        (v1(CLIENT_V4), "192.0.2.9:40001"),
        (v2(CLIENT_V4), "192.0.2.9:40001"),
        (v1(CLIENT_V6), "[2001:db8::9]:40002"),
        (v2(CLIENT_V6), "[2001:db8::9]:40002"),
    ],
)
def test_a_header_from_the_trusted_balancer_sets_the_peer_in_the_session_list(
    proxied: tuple[ServerProcess, int], header: bytes, peer: str
) -> None:
    server, admin = proxied
    client = ProxiedPOP3("127.0.0.1", server.plain, header)
    assert client.getwelcome().startswith(b"+OK")
    listed = sessions(admin)
    assert [s["peer"] for s in listed] == [peer]
    client.quit()


def test_implicit_tls_behind_the_balancer_and_a_client_hello_in_the_same_segment(
    proxied: tuple[ServerProcess, int],
) -> None:
    server, admin = proxied
    client = ProxiedPOP3SSL("127.0.0.1", server.tls, v2(CLIENT_V4), client_context())
    client.user(USER)
    client.pass_(PASSWORD)
    assert [(s["peer"], s["listener"], s["user"]) for s in sessions(admin)] == [
        ("192.0.2.9:40001", "tls", USER)
    ]
    client.quit()
    greeting = tls_greeting_with_header_in_one_segment(server.tls, v1(CLIENT_V6), client_context())
    assert greeting.startswith(b"+OK")


def test_a_local_header_keeps_the_balancers_address(proxied: tuple[ServerProcess, int]) -> None:
    server, admin = proxied
    client = ProxiedPOP3("127.0.0.1", server.plain, v2(None))
    assert sessions(admin)[0]["peer"].startswith("127.0.0.1:")
    client.quit()


def test_penalties_and_logs_use_the_real_address(proxied: tuple[ServerProcess, int]) -> None:
    server, _admin = proxied
    for _ in range(3):  # an attacker behind the balancer
        client = ProxiedPOP3SSL("127.0.0.1", server.tls, v2(CLIENT_V4), client_context())
        client.user(USER)
        with pytest.raises(Exception, match="AUTH"):
            client.pass_("wrong password")
        client.quit()
    started = time.monotonic()
    honest = ProxiedPOP3SSL("127.0.0.1", server.tls, v2(("198.51.100.4", 5000)), client_context())
    honest.user(USER)
    honest.pass_(PASSWORD)  # not delayed by the attacker's failures
    assert time.monotonic() - started < 0.9
    honest.quit()
    lines = json_lines(server.stop())
    failed = [line for line in lines if line["message"] == "login failed"]
    assert {line["peer"] for line in failed} == {"192.0.2.9:40001"}
    (delayed,) = [line for line in lines if line["message"].startswith("repeated login")]
    assert delayed["address"] == "192.0.2.9"


def test_the_loopback_rule_uses_the_real_address(proxied: tuple[ServerProcess, int]) -> None:
    """Plaintext logins are allowed from loopback only: a remote client behind a balancer on
    this host is not loopback."""
    server, _admin = proxied
    remote = ProxiedPOP3("127.0.0.1", server.plain, v1(CLIENT_V4))
    with pytest.raises(Exception, match="disallowed before STLS"):
        remote.user(USER)
    remote.quit()
    local = ProxiedPOP3("127.0.0.1", server.plain, v1(("127.0.0.1", 5555)))
    local.user(USER)
    local.pass_(PASSWORD)
    local.quit()


REASONS = {
    "garbage": "no PROXY protocol header",
    "tls without a header": "no PROXY protocol header",
    "oversized v1": "PROXY v1 header longer than 107 bytes",
    "oversized v2": "PROXY v2 header longer than 1536 bytes",
    "malformed v1": "port out of range in PROXY v1 header",
    "split then garbage": "PROXY v1 header not ended by CRLF",
}


@pytest.mark.parametrize(
    ("name", "sends"),
    [
        ("garbage", [b"USER alice\r\n"]),
        ("tls without a header", [b"\x16\x03\x01\x00\x05hello"]),
        ("oversized v1", [b"PROXY TCP4 " + b"1" * 200 + b"\r\n"]),
        ("oversized v2", [v2(CLIENT_V4)[:14] + b"\xff\xff"]),
        ("malformed v1", [b"PROXY TCP4 192.0.2.9 10.0.0.1 99999 2110\r\n"]),
        ("split then garbage", [b"PROXY TC", b"P4 192.0.2.9 10.0.0.1 1 2\n"]),
    ],
)
def test_a_bad_header_is_refused_without_a_traceback(
    proxied: tuple[ServerProcess, int], name: str, sends: list[bytes]
) -> None:
    server, _admin = proxied
    assert closed_without_greeting(server.plain, *sends, wait=0.05)
    assert closed_without_greeting(server.tls, *sends, wait=0.05)
    stderr = server.stop()
    assert "Traceback" not in stderr
    lines = json_lines(stderr)
    (refusal,) = [line for line in lines if line["message"] == "connection refused"]
    assert refusal["level"] == "INFO"
    assert refusal["peer"].startswith("127.0.0.1:")
    assert refusal["reason"] == REASONS[name]
    (repeated,) = [line for line in lines if line["message"].startswith("connection refused rep")]
    assert (repeated["repeats"], repeated["address"]) == (1, "127.0.0.1")


def test_a_header_split_across_reads_is_accepted(proxied: tuple[ServerProcess, int]) -> None:
    server, admin = proxied
    header = v2(CLIENT_V4)
    with socket.create_connection(("127.0.0.1", server.plain), timeout=15) as sock:
        for index in range(len(header)):
            sock.sendall(header[index : index + 1])
            time.sleep(0.005)
        assert sock.recv(1024).startswith(b"+OK")
        assert sessions(admin)[0]["peer"] == "192.0.2.9:40001"


def test_a_truncated_header_is_refused_at_close_or_at_the_deadline(
    proxied: tuple[ServerProcess, int],
) -> None:
    server, _admin = proxied
    with socket.create_connection(("127.0.0.1", server.plain), timeout=15) as sock:
        sock.sendall(v2(CLIENT_V4)[:20])
        started = time.monotonic()
        assert sock.recv(1024) == b""  # the login deadline (3 s here) ends the wait
        assert 2.0 < time.monotonic() - started < 10
    with socket.create_connection(("127.0.0.1", server.plain), timeout=15) as sock:
        sock.sendall(b"PROXY TCP4 192.0.2.9")
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b""
    stderr = server.stop()
    assert "Traceback" not in stderr
    reasons = [line.get("reason") for line in json_lines(stderr)]
    assert "no complete PROXY protocol header in time" in reasons
    assert "connection closed inside the PROXY protocol header" in reasons


def test_an_untrusted_source_is_refused_with_or_without_a_header(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, **proxied_env(trusted="10.0.0.0/8"))
    assert closed_without_greeting(server.plain, v2(CLIENT_V4))
    assert closed_without_greeting(server.plain)
    assert closed_without_greeting(server.tls, v1(CLIENT_V4))
    stderr = server.stop()
    lines = [line for line in json_lines(stderr) if "not a trusted" in line.get("reason", "")]
    assert [line["message"][:40] for line in lines] == [
        "connection refused",
        "connection refused repeated 2 more times",
    ]
    assert "Traceback" not in stderr


def test_the_per_address_cap_counts_real_addresses(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, **proxied_env(POP3_MAX_CONNECTIONS_PER_IP="1"))
    first = ProxiedPOP3("127.0.0.1", server.plain, v2(CLIENT_V4))
    other = ProxiedPOP3("127.0.0.1", server.plain, v2(CLIENT_V6))  # another client: admitted
    with socket.create_connection(("127.0.0.1", server.plain), timeout=15) as again:
        again.sendall(v1(("192.0.2.9", 40003)))  # the first client's address once more
        assert again.recv(1024).startswith(b"-ERR [SYS/TEMP] too many connections from your")
    first.quit()
    other.quit()
    server.stop()
