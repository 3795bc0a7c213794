"""UTF8 (RFC 6856) and SASL LOGIN over real sockets, with poplib and curl as the clients."""

from __future__ import annotations

import base64
import poplib
import shutil
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.conftest import PASSWORD, USER, RunningServer, start_server
from tests.corpus import expected_on_wire

CURL = shutil.which("curl")
UTF8_USER = "j\u00f6rg@b\u00fccher.example"
UTF8_PASSWORD = "gr\u00fc\u00dfe \u7528\u6237"
MESSAGE = b"Subject: hallo\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@pytest.fixture
async def utf8_server(nursery: trio.Nursery, tmp_path: Path) -> RunningServer:
    running = await start_server(
        nursery, tmp_path, POP3_USER=UTF8_USER, POP3_PASSWORD=UTF8_PASSWORD
    )
    running.mail_dir.mkdir(parents=True, exist_ok=True)
    (running.mail_dir / "m1").write_bytes(MESSAGE)
    return running


def _attempts(server: RunningServer, method: str, outcome: str) -> float:
    value = server.runtime.prometheus.get_sample_value(
        "pop3_auth_attempts_total", {"method": method, "outcome": outcome}
    )
    return value or 0.0


async def test_poplib_utf8_then_user_pass(utf8_server: RunningServer) -> None:
    def run() -> tuple[dict[str, list[str]], bytes, tuple[int, int]]:
        client: Any = poplib.POP3("127.0.0.1", utf8_server.plain_port, timeout=30)
        capa = client.capa()
        answer = client.utf8()  # poplib then encodes commands as UTF-8
        client.user(UTF8_USER)
        client.pass_(UTF8_PASSWORD)
        stat = client.stat()
        client.quit()
        return capa, answer, stat

    capa, answer, stat = await trio.to_thread.run_sync(run)
    assert capa["UTF8"] == ["USER"]
    assert answer.startswith(b"+OK")
    assert stat == (1, len(MESSAGE))


async def test_utf8_user_without_utf8_command_logs_in(utf8_server: RunningServer) -> None:
    """Most clients send a UTF-8 name without asking for UTF8 first (clients-7 F2)."""

    def run() -> tuple[bytes, tuple[int, int]]:
        client: Any = poplib.POP3("127.0.0.1", utf8_server.plain_port, timeout=30)
        client.encoding = "utf-8"  # sends the UTF-8 name without asking for UTF8 first
        try:
            answer = client.user(UTF8_USER)
            client.pass_(UTF8_PASSWORD)
            return answer, client.stat()
        finally:
            client.close()

    answer, stat = await trio.to_thread.run_sync(run)
    assert answer.startswith(b"+OK")
    assert stat == (1, len(MESSAGE))


async def test_poplib_auth_login_with_utf8_credentials(utf8_server: RunningServer) -> None:
    def run() -> list[bytes]:
        client: Any = poplib.POP3("127.0.0.1", utf8_server.plain_port, timeout=30)
        replies = [
            client._shortcmd("AUTH LOGIN"),
            client._shortcmd(_b64(UTF8_USER)),
            client._shortcmd(_b64(UTF8_PASSWORD)),
        ]
        _resp, lines, _ = client.retr(1)
        client.quit()
        return [*replies, b"".join(line + b"\r\n" for line in lines)]

    before = _attempts(utf8_server, "login", "success")
    user_prompt, password_prompt, ok, body = await trio.to_thread.run_sync(run)
    assert user_prompt == b"+ VXNlcm5hbWU6"  # "Username:"
    assert password_prompt == b"+ UGFzc3dvcmQ6"  # "Password:"
    assert ok.startswith(b"+OK")
    assert body == expected_on_wire(MESSAGE)
    assert _attempts(utf8_server, "login", "success") == before + 1


async def test_auth_login_wrong_password_gets_auth_code(server: RunningServer) -> None:
    def run() -> bytes:
        client: Any = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
        client._shortcmd(f"AUTH LOGIN {_b64(USER)}")  # the user name as initial response
        try:
            client._shortcmd(_b64("wrong"))
        except poplib.error_proto as exc:
            return bytes(exc.args[0])
        finally:
            client.close()
        return b"accepted"

    assert await trio.to_thread.run_sync(run) == b"-ERR [AUTH] invalid user name or password"
    assert _attempts(server, "login", "failure") == 1


async def test_auth_lists_login(server: RunningServer) -> None:
    def run() -> tuple[dict[str, list[str]], list[bytes]]:
        client: Any = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
        capa = client.capa()
        _resp, mechanisms, _ = client._longcmd("AUTH")
        client.quit()
        return capa, mechanisms

    capa, mechanisms = await trio.to_thread.run_sync(run)
    assert capa["SASL"] == ["PLAIN", "LOGIN"]
    assert mechanisms == [b"PLAIN", b"LOGIN"]


async def _curl_auth_login(running: RunningServer, user: str, password: str) -> None:
    running.mail_dir.mkdir(parents=True, exist_ok=True)
    (running.mail_dir / "m1").write_bytes(MESSAGE)
    assert CURL is not None
    command = [
        CURL,
        "--silent",
        "--show-error",
        "--max-time",
        "30",
        "--login-options",
        "AUTH=LOGIN",
        "--user",
        f"{user}:{password}",
        f"pop3://127.0.0.1:{running.plain_port}/1",
    ]
    result = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == expected_on_wire(MESSAGE)
    assert _attempts(running, "login", "success") == 1


async def test_curl_auth_login(server: RunningServer) -> None:
    await _curl_auth_login(server, USER, PASSWORD)


async def test_curl_auth_login_utf8(utf8_server: RunningServer) -> None:
    await _curl_auth_login(utf8_server, UTF8_USER, UTF8_PASSWORD)
