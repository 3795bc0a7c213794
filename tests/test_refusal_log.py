"""Connections refused by a cap are in the log (ops-6): before, only the client and
``pop3_connections_refused_total`` knew, so an operator behind a balancer whose clients all
got "too many connections" found nothing in the journal. One line per address and minute,
the rest counted, with what to do."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from tests.e2e.process import spawn_server


def greeting(port: int) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock, sock.recv(200)


def test_refusals_by_the_per_address_cap_are_one_line_with_a_hint(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, POP3_LOG_FORMAT="json", POP3_MAX_CONNECTIONS_PER_IP="2")
    held: list[socket.socket] = []
    try:
        for _ in range(2):
            sock, hello = greeting(server.plain)
            held.append(sock)
            assert hello.startswith(b"+OK")
        for _ in range(3):
            sock, hello = greeting(server.plain)
            sock.close()
            assert b"too many connections from your address" in hello
        for sock in held:
            sock.close()
        stderr = server.stop()
    finally:
        if server.alive():
            server.kill()
    lines: list[dict[str, Any]] = [
        json.loads(line) for line in stderr.splitlines() if line.startswith("{")
    ]
    (first,) = [line for line in lines if line["message"] == "connection refused"]
    assert first["reason"] == "max_connections_per_ip"
    assert first["peer"].startswith("127.0.0.1:")
    assert "raise max-connections-per-ip" in first["hint"]
    assert "PROXY protocol" in first["hint"]
    repeated = [line for line in lines if line["message"].startswith("connection refused rep")]
    assert [line["repeats"] for line in repeated] == [2]
