"""Issue 13, item 1: the admin port cannot take POP3 down by holding descriptors."""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import poplib
import resource
import socket
import time
from pathlib import Path

import pytest
import trio
import trio.testing

from pop3srv.fdlimits import BackoffListener, FdBudget
from tests.conftest import PASSWORD, USER
from tests.e2e.process import spawn_server_with

SOFT, HARD = 128, 512
IDLE_CONNECTIONS = 600  # more than the hard limit of the server


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, HARD))


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _soft_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-files limit")


def _closed_by_server(port: int) -> bool:
    """A complete request answered with ``connection: close``: does the server close?"""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        with contextlib.suppress(TimeoutError):
            while chunk := sock.recv(4096):
                data += chunk
            assert b"connection: close" in data.lower()
            return True
    return False


def test_i01_idle_admin_connections_leave_pop3_working_and_are_released(tmp_path: Path) -> None:
    env = {"POP3_ADMIN_PORT": "8080", "POP3_ADMIN_TOKEN": "admin-token-for-the-fd-test"}
    served = spawn_server_with(tmp_path, _limit_descriptors, env)
    idle: list[socket.socket] = []
    try:
        admin = json.loads((tmp_path / "ports.json").read_text())["admin"][0][1]
        assert _soft_limit(served.pid) == HARD  # raised to the hard limit at start
        baseline = _descriptors(served.pid)
        assert _closed_by_server(admin)
        half_done = socket.create_connection(("127.0.0.1", admin), timeout=30)
        half_done.sendall(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\nab"
        )
        started = time.monotonic()
        for _ in range(IDLE_CONNECTIONS):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", admin))
            idle.append(sock)
        time.sleep(1)
        assert _descriptors(served.pid) < HARD
        pop3 = poplib.POP3("127.0.0.1", served.plain, timeout=10)
        pop3.user(USER)
        assert pop3.pass_(PASSWORD).startswith(b"+OK")
        pop3.quit()
        for sock in idle:
            sock.close()
        idle.clear()
        answer = half_done.recv(4096)  # a body that never completes: 408, then closed
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        with contextlib.suppress(ConnectionResetError):
            while half_done.recv(4096):
                pass
        # BODY_TIMEOUT is 10 s (Quart's default 60 s); room for a busy machine
        assert time.monotonic() - started < 25
        half_done.close()
        deadline = time.monotonic() + 20
        while _descriptors(served.pid) > baseline + 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _descriptors(served.pid) <= baseline + 2
        assert served.alive()
    finally:
        for sock in idle:
            sock.close()
        err = served.stop()
    assert err.count("accept") < 5, err[-2000:]


class _OutOfDescriptors(trio.abc.Listener[trio.abc.Stream]):
    """Fails ``failures`` accepts with EMFILE, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[float] = []

    async def accept(self) -> trio.abc.Stream:
        self.calls.append(trio.current_time())
        if len(self.calls) <= self.failures:
            raise OSError(errno.EMFILE, "Too many open files")
        return trio.testing.memory_stream_pair()[0]

    async def aclose(self) -> None:
        pass


async def test_i01_accept_out_of_descriptors_backs_off(
    autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Item 1: EMFILE on accept waits longer each time and is logged once, not ten times a
    second (trio's own loop retries every 0.1 s)."""
    inner = _OutOfDescriptors(8)
    await BackoffListener(inner, "POP3").accept()
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(inner.calls)]
    assert gaps == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert sum("cannot accept" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(
    ("limit", "admin", "pop3"),
    [(512, 64, 96), (1024, 128, 208), (20_000, 256, 1000), (64, 16, 1)],
)
def test_i01_caps_sized_from_the_descriptor_limit(limit: int, admin: int, pop3: int) -> None:
    """Item 1: admin and POP3 caps leave a reserve inside the descriptor limit."""
    budget = FdBudget.from_limit(limit, pop3_configured=1000)
    assert (budget.admin, budget.pop3) == (admin, pop3)
