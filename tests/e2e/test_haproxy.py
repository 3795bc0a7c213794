"""A real HAProxy (Debian's) in front of a real pop3srv, with the ``server`` options of
deploy/haproxy.cfg: the session pop3srv lists is the client's own socket, not the balancer's."""

from __future__ import annotations

import json
import poplib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, USER
from tests.e2e.process import ServerProcess, spawn_server
from tests.e2e.test_proxy_protocol import ADMIN_TOKEN, proxied_env
from tests.e2e.test_startup import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ROOT / "deploy" / "haproxy.cfg"

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="Debian haproxy missing")


def deployed_server_options(backend: str) -> list[str]:
    """The options after the address on the ``server`` lines of ``backend`` (all the same)."""
    options: set[tuple[str, ...]] = set()
    current = None
    for raw in DEPLOYED.read_text().splitlines():
        line = raw.strip()
        if line.startswith("backend "):
            current = line.split()[1]
        elif current == backend and line.startswith("server "):
            options.add(tuple(line.split()[3:]))
    (only,) = options
    return list(only)


def test_the_deployed_balancer_sends_proxy_protocol_v2_and_compose_accepts_it() -> None:
    for backend in ("pop3_plain", "pop3_tls"):
        assert "send-proxy-v2" in deployed_server_options(backend)
    compose = (ROOT / "compose.yaml").read_text()
    assert 'POP3_PROXY_PROTOCOL: "true"' in compose
    assert "POP3_PROXY_TRUSTED:" in compose


@pytest.fixture
def balanced(tmp_path: Path) -> Iterator[tuple[ServerProcess, int, int]]:
    (tmp_path / "mail").mkdir()
    server = spawn_server(tmp_path, **proxied_env())
    admin = json.loads((tmp_path / "ports.json").read_text())["admin"][0][1]
    front = free_port()
    options = " ".join(deployed_server_options("pop3_plain"))
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        "global\n    maxconn 100\n"
        "defaults\n    mode tcp\n    timeout connect 5s\n"
        "    timeout client 30s\n    timeout server 30s\n"
        f"frontend pop3\n    bind 127.0.0.1:{front}\n    default_backend pop3_plain\n"
        f"backend pop3_plain\n    server pop3srv-1 127.0.0.1:{server.plain} {options}\n"
    )
    haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stderr=subprocess.PIPE)
    try:
        yield server, admin, front
    finally:
        haproxy.terminate()
        haproxy.wait(timeout=10)
        server.stop()


def test_pop3srv_sees_the_clients_own_address_through_haproxy(
    balanced: tuple[ServerProcess, int, int],
) -> None:
    _server, admin, front = balanced
    deadline = time.monotonic() + 15
    while True:
        try:
            client = poplib.POP3("127.0.0.1", front, timeout=30)
            break
        except (ConnectionRefusedError, poplib.error_proto):
            assert time.monotonic() < deadline, "haproxy did not start"
            time.sleep(0.1)
    client.user(USER)
    client.pass_(PASSWORD)
    own = client.sock.getsockname()
    listed = httpx.get(
        f"http://127.0.0.1:{admin}/api/sessions",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    ).json()
    assert [s["peer"] for s in listed] == [f"{own[0]}:{own[1]}"]
    client.quit()
