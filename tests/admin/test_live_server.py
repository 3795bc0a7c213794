"""A whole server (POP3 + admin app on free ports, one nursery): a poplib login shows up on the
live websocket and in /api/sessions, DELETE ends it without committing its DELE, the metrics
move and pass ``promtool check metrics``, and shutdown closes the websocket with 1001."""

from __future__ import annotations

import json
import os
import poplib
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from admin.tokenfile import admin_token_path
from tests.admin.conftest import ADMIN_TOKEN, BEARER, admin_env, assert_promtool_accepts
from tests.conftest import PASSWORD, USER, RunningServer, start_server

ENABLE_ADMIN = {"POP3_ADMIN_PORT": "8080"}  # any port but 0; any_free_port picks a free one


def admin_base(server: RunningServer) -> str:
    host, port = server.bound.admin[0]
    return f"http://{host}:{port}"


async def start_with_admin(nursery: trio.Nursery, tmp_path: Path, **extra: str) -> RunningServer:
    return await start_server(nursery, tmp_path, **admin_env(tmp_path, **ENABLE_ADMIN, **extra))


@pytest.fixture
async def live(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_with_admin(nursery, tmp_path)
    yield server
    server.shutdown.set()


async def next_of(ws: WebSocketConnection, kind: str, timeout: float = 10) -> dict[str, Any]:
    """The next live message of ``kind`` (counter refreshes in between are skipped)."""
    with trio.fail_after(timeout):
        while True:
            message: dict[str, Any] = json.loads(await ws.get_message())
            if message["type"] == kind:
                return message


def families(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    label: tuple[str, str],
) -> float:
    """The sum over the samples of ``name`` that carry ``label``."""
    return sum(v for (n, labels), v in metrics.items() if n == name and label in labels)


def write_messages(mail_dir: Path, count: int) -> None:
    mail_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        (mail_dir / f"m{n}.eml").write_bytes(f"Subject: {n}\r\n\r\nbody {n}\r\n".encode())
        stamp = time.time() - 100 + n
        os.utime(mail_dir / f"m{n}.eml", (stamp, stamp))


async def test_login_appears_live_and_delete_ends_it_without_committing(
    live: RunningServer,
) -> None:
    write_messages(live.mail_dir, 2)
    base = admin_base(live)
    headers = [(b"authorization", f"Bearer {ADMIN_TOKEN}".encode())]
    async with (
        httpx.AsyncClient(base_url=base, headers=BEARER) as http,
        open_websocket_url(
            base.replace("http", "ws") + "/api/sessions/live", extra_headers=headers
        ) as ws,
    ):
        assert (await http.get("/readyz")).status_code == 200
        assert await next_of(ws, "snapshot") == {"type": "snapshot", "sessions": []}

        client = await trio.to_thread.run_sync(
            lambda: poplib.POP3("127.0.0.1", live.plain_port, timeout=10)
        )
        opened = (await next_of(ws, "open"))["session"]
        assert opened["user"] is None
        assert opened["listener"] == "plain"

        def login_and_delete() -> None:
            client.user(USER)
            client.pass_(PASSWORD)
            assert client.stat()[0] == 2
            client.dele(1)

        await trio.to_thread.run_sync(login_and_delete)
        updated = (await next_of(ws, "update"))["session"]
        assert (updated["id"], updated["user"], updated["state"]) == (
            opened["id"],
            USER,
            "TRANSACTION",
        )

        [listed] = (await http.get("/api/sessions")).json()
        assert (listed["id"], listed["user"]) == (opened["id"], USER)
        assert listed["commands"] >= 4

        response = await http.delete(f"/api/sessions/{opened['id']}")
        assert response.status_code == 200
        assert await next_of(ws, "close") == {"type": "close", "id": opened["id"]}

        def noop_after_kick() -> None:
            with pytest.raises((poplib.error_proto, OSError)):
                client.noop()
                client.noop()
            client.close()

        await trio.to_thread.run_sync(noop_after_kick)
        assert sorted(p.name for p in live.mail_dir.iterdir()) == ["m1.eml", "m2.eml"]
        assert (await http.get("/api/sessions")).json() == []
        assert (await http.delete(f"/api/sessions/{opened['id']}")).status_code == 404

        metrics = families((await http.get("/metrics")).text)
    assert metrics[("pop3_sessions_total", (("outcome", "kicked"),))] == 1
    assert total(metrics, "pop3_auth_attempts_total", ("outcome", "success")) == 1
    assert metrics[("pop3_commands_total", (("command", "DELE"), ("outcome", "ok")))] == 1
    assert metrics[("pop3_messages_deleted_total", ())] == 0
    assert metrics[("pop3_admin_sessions_ended_total", ())] == 1
    assert metrics[("pop3_connections_active", (("listener", "plain"),))] == 0
    assert metrics[("pop3_bytes_sent_total", ())] > 0
    assert metrics[("pop3_session_duration_seconds_count", ())] == 1


async def test_counters_move_with_sessions(live: RunningServer) -> None:
    write_messages(live.mail_dir, 1)
    async with httpx.AsyncClient(base_url=admin_base(live)) as http:
        before = families((await http.get("/metrics")).text)

        def session() -> None:
            client = poplib.POP3("127.0.0.1", live.plain_port, timeout=10)
            client.user(USER)
            client.pass_(PASSWORD)
            client.retr(1)
            client.dele(1)
            client.quit()

        await trio.to_thread.run_sync(session)
        after = families((await http.get("/metrics")).text)

    def moved(name: str, *labels: tuple[str, str]) -> float:
        key = (name, tuple(sorted(labels)))
        return after.get(key, 0) - before.get(key, 0)

    assert moved("pop3_sessions_total", ("outcome", "completed")) == 1
    assert moved("pop3_connections_total", ("listener", "plain")) == 1
    assert moved("pop3_messages_retrieved_total") == 1
    assert moved("pop3_messages_deleted_total") == 1
    assert moved("pop3_commands_total", ("command", "RETR"), ("outcome", "ok")) == 1
    assert moved("pop3_commands_total", ("command", "QUIT"), ("outcome", "ok")) == 1
    assert moved("pop3_bytes_sent_total") > 0
    assert not list(live.mail_dir.iterdir())


async def test_promtool_accepts_the_exposition(live: RunningServer) -> None:
    def session() -> None:
        client = poplib.POP3("127.0.0.1", live.plain_port, timeout=10)
        client.user(USER)
        with pytest.raises(poplib.error_proto):
            client.pass_("wrong")
        client.quit()

    await trio.to_thread.run_sync(session)
    async with httpx.AsyncClient(base_url=admin_base(live)) as http:
        text = (await http.get("/metrics")).text
    assert "pop3_auth_attempts_total" in text
    await assert_promtool_accepts(text)


async def test_shutdown_closes_live_websocket_with_1001(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_with_admin(nursery, tmp_path)
    url = admin_base(server).replace("http", "ws") + "/api/sessions/live"
    headers = [(b"authorization", f"Bearer {ADMIN_TOKEN}".encode())]
    async with open_websocket_url(url, extra_headers=headers) as ws:
        await next_of(ws, "snapshot")
        started = trio.current_time()
        server.shutdown.set()
        with trio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.get_message()
    assert closed.value.reason is not None
    assert closed.value.reason.code == 1001
    assert trio.current_time() - started < 2


async def test_readyz_and_generated_admin_token(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_with_admin(nursery, tmp_path, POP3_ADMIN_TOKEN="")
    path = admin_token_path(server.runtime.settings.store.state_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert len(token) >= 40
    async with httpx.AsyncClient(base_url=admin_base(server)) as http:
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
        ok = await http.get("/api/sessions", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        refused = await http.get("/api/sessions", headers=BEARER)
        assert refused.status_code == 401
        server.shutdown.set()
        with trio.fail_after(5):
            while server.runtime.is_ready():
                await trio.sleep(0.01)


async def test_admin_port_0_disables_the_app(server: RunningServer) -> None:
    assert server.bound.admin == []
    assert server.bound.plain


async def test_shutdown_is_quick_with_an_idle_keep_alive_client(tmp_path: Path) -> None:
    """An idle HTTP connection (a browser tab) must not hold shutdown for graceful_timeout."""
    async with httpx.AsyncClient() as http:
        async with trio.open_nursery() as nursery:
            server = await start_with_admin(nursery, tmp_path)
            response = await http.get(admin_base(server) + "/healthz")
            assert response.status_code == 200
            started = trio.current_time()
            server.shutdown.set()
        assert trio.current_time() - started < 2
