"""Revocation end to end on a whole server (in-process, real sockets, poplib): mint with a
label, log in over POP3, revoke in the admin API; the live session ends, the next login gets
``-ERR [AUTH]`` (shown as "revoked" in the security view), and after a restart on the same
state-dir the token is still revoked. App passwords likewise after a version bump. A server
with no jwt-secret generates one and mints; ``require-jti`` refuses tokens minted offline."""

from __future__ import annotations

import json
import logging
import poplib
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import trio

from admin.minting import TokenMinter
from pop3srv.auth.generated import jwt_secret_path
from pop3srv.config import load_settings
from pop3srv.reload import reload
from tests.admin.conftest import BEARER, admin_env
from tests.admin.test_live_server import admin_base, start_with_admin, write_messages
from tests.conftest import PASSWORD, USER, RunningServer, server_env, start_server
from tests.e2e.process import run_pop3srv, spawn_server


def _login(port: int, user: str, password: str) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    client.user(user)
    client.pass_(password)
    return client


def _refused(port: int, user: str, password: str) -> str:
    with pytest.raises(poplib.error_proto) as refused:
        _login(port, user, password).quit()
    return str(refused.value)


def _cut_off(client: poplib.POP3) -> None:
    with pytest.raises((poplib.error_proto, OSError)):
        client.noop()
        client.noop()
    client.close()


async def _api(server: RunningServer, method: str, path: str, **kw: Any) -> Any:
    async with httpx.AsyncClient(base_url=admin_base(server), headers=BEARER) as http:
        response = await http.request(method, path, **kw)
    assert response.status_code == 200, response.text
    return response.json()


async def test_revoked_token_ends_its_session_and_stays_revoked(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_with_admin(nursery, tmp_path)
    write_messages(server.mail_dir / "work", 2)
    minted = await _api(server, "POST", "/api/tokens", json={"mailbox": "work", "label": "phone"})
    keep = await _api(server, "POST", "/api/tokens", json={"mailbox": "work", "label": "laptop"})
    port = server.plain_port
    client = await trio.to_thread.run_sync(_login, port, "jane", minted["token"])
    assert (await trio.to_thread.run_sync(client.stat))[0] == 2
    [session] = await _api(server, "GET", "/api/sessions")
    assert (session["user"], session["mailbox"]) == ("jane", "work")

    revoked = await _api(server, "DELETE", f"/api/tokens/{minted['jti']}")
    assert revoked["sessions_ended"] == [session["id"]]
    await trio.to_thread.run_sync(_cut_off, client)
    reply = await trio.to_thread.run_sync(_refused, port, "jane", minted["token"])
    assert "[AUTH]" in reply
    security = await _api(server, "GET", "/api/security")
    assert security["failed_logins"][0]["reason"] == "revoked"
    assert security["failed_logins"][0]["user"] == "jane"
    other = await trio.to_thread.run_sync(_login, port, "jane", keep["token"])
    await trio.to_thread.run_sync(other.quit)
    actions = [entry["action"] for entry in await _api(server, "GET", "/api/audit")]
    assert actions[:3] == ["revoke", "mint", "mint"]
    server.shutdown.set()

    again = await start_with_admin(nursery, tmp_path)
    reply = await trio.to_thread.run_sync(_refused, again.plain_port, "jane", minted["token"])
    assert "[AUTH]" in reply
    still = await trio.to_thread.run_sync(_login, again.plain_port, "jane", keep["token"])
    await trio.to_thread.run_sync(still.quit)
    records = {r["jti"]: r for r in await _api(again, "GET", "/api/tokens")}
    assert records[minted["jti"]]["revoked_at"] is not None
    assert records[keep["jti"]]["revoked_at"] is None
    audit_lines = (tmp_path / "state" / "audit.log").read_text().splitlines()
    assert len(audit_lines) >= 3
    again.shutdown.set()


async def test_app_password_revocation_survives_restart(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_with_admin(nursery, tmp_path)
    write_messages(server.mail_dir / "work", 1)
    old = (await _api(server, "POST", "/api/app-passwords", json={"mailbox": "work"}))["password"]
    client = await trio.to_thread.run_sync(_login, server.plain_port, "work", old)
    bumped = await _api(server, "POST", "/api/app-passwords/work/revoke")
    assert bumped["version"] == 2 and len(bumped["sessions_ended"]) == 1
    await trio.to_thread.run_sync(_cut_off, client)
    assert "[AUTH]" in await trio.to_thread.run_sync(_refused, server.plain_port, "work", old)
    new = (await _api(server, "POST", "/api/app-passwords", json={"mailbox": "work"}))["password"]
    assert new != old
    server.shutdown.set()

    again = await start_with_admin(nursery, tmp_path)
    assert "[AUTH]" in await trio.to_thread.run_sync(_refused, again.plain_port, "work", old)
    client = await trio.to_thread.run_sync(_login, again.plain_port, "work", new)
    await trio.to_thread.run_sync(client.quit)
    again.shutdown.set()


async def test_require_jti_refuses_tokens_minted_offline(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_with_admin(nursery, tmp_path, POP3_REQUIRE_JTI="true")
    write_messages(server.mail_dir / "work", 1)
    offline = TokenMinter.from_settings(server.runtime.settings)
    token = offline.mint(offline.parse({"mailbox": "work"})).token  # no jti
    assert "[AUTH]" in await trio.to_thread.run_sync(_refused, server.plain_port, "x", token)
    registered = await _api(server, "POST", "/api/tokens", json={"mailbox": "work"})
    client = await trio.to_thread.run_sync(_login, server.plain_port, "x", registered["token"])
    await trio.to_thread.run_sync(client.quit)
    security = await _api(server, "GET", "/api/security")
    assert security["failed_logins"][0]["reason"] == "unregistered-token"
    server.shutdown.set()


async def test_offline_tokens_without_jti_still_work(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_with_admin(nursery, tmp_path)
    write_messages(server.mail_dir / "work", 1)
    offline = TokenMinter.from_settings(server.runtime.settings)
    token = offline.mint(offline.parse({"mailbox": "work"})).token
    client = await trio.to_thread.run_sync(_login, server.plain_port, "x", token)
    await trio.to_thread.run_sync(client.quit)
    server.shutdown.set()


async def test_generated_jwt_secret_mints_out_of_the_box(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """No jwt-secret and default providers (as ``make run``): a secret is generated into
    state-dir (0600), the admin app mints, and the static login still works."""
    server = await start_server(
        nursery, tmp_path, POP3_ADMIN_PORT="8080", POP3_ADMIN_TOKEN=BEARER["Authorization"][7:]
    )
    path = jwt_secret_path(tmp_path / "state")
    assert server.runtime.generated_jwt_secret == path
    assert path.stat().st_mode & 0o777 == 0o600
    assert server.runtime.settings.auth.providers == ("static", "jwt")
    minted = await _api(server, "POST", "/api/tokens", json={"provider": "demo"})
    client = await trio.to_thread.run_sync(_login, server.plain_port, "any", minted["token"])
    assert (await trio.to_thread.run_sync(client.stat))[0] == 1
    await trio.to_thread.run_sync(client.quit)
    static = await trio.to_thread.run_sync(_login, server.plain_port, USER, PASSWORD)
    await trio.to_thread.run_sync(static.quit)
    secret = path.read_text()
    server.shutdown.set()

    again = await start_server(nursery, tmp_path)
    assert path.read_text() == secret  # reused, so minted passwords survive restarts
    client = await trio.to_thread.run_sync(_login, again.plain_port, "any", minted["token"])
    await trio.to_thread.run_sync(client.quit)
    again.shutdown.set()


def test_start_up_line_says_the_secret_was_generated(tmp_path: Path) -> None:
    """``pop3srv serve`` with no jwt-secret (as ``make run``): the log names the file, never
    the secret; ``pop3srv token mint`` then signs offline with the same secret."""
    server = spawn_server(tmp_path)
    err = server.stop()
    path = jwt_secret_path(tmp_path / "state")
    assert f"jwt-secret: none configured, generated into {path}" in err
    assert path.read_text().strip() not in err
    minted = run_pop3srv(tmp_path, "token", "mint", "--provider", "demo")
    assert minted.returncode == 0, minted.stderr
    secret = path.read_text().strip()
    assert jwt.decode(minted.stdout.strip(), secret, algorithms=["HS256"])["provider"] == "demo"


async def test_a_reload_keeps_revocations_and_the_generated_secret(
    nursery: trio.Nursery, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGHUP rebuilds the authenticator: it still consults the token registry, still checks
    JWTs with the generated secret, and does not report that secret as a pending change."""
    extra = {"POP3_ADMIN_PORT": "8080", "POP3_ADMIN_TOKEN": BEARER["Authorization"][7:]}
    server = await start_server(nursery, tmp_path, **extra)
    minted = await _api(server, "POST", "/api/tokens", json={"provider": "demo"})
    kept = await _api(server, "POST", "/api/tokens", json={"provider": "demo"})
    await _api(server, "DELETE", f"/api/tokens/{minted['jti']}")
    env = server_env(tmp_path, **extra)
    with caplog.at_level(logging.INFO, logger="pop3srv.reload"):
        assert reload(server.runtime, lambda: load_settings(env, cwd=tmp_path, home=tmp_path))
    assert "take effect only after a restart" not in caplog.text
    port = server.plain_port
    assert "[AUTH]" in await trio.to_thread.run_sync(_refused, port, "x", minted["token"])
    client = await trio.to_thread.run_sync(_login, port, "x", kept["token"])
    await trio.to_thread.run_sync(client.quit)
    server.shutdown.set()


async def test_a_reload_lets_the_admin_app_mint_for_a_new_mailbox(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """SIGHUP swaps the ``mailboxes`` table for minting too, not only for POP3 logins."""
    server = await start_with_admin(nursery, tmp_path)
    write_messages(server.mail_dir / "added", 1)
    async with httpx.AsyncClient(base_url=admin_base(server), headers=BEARER) as http:
        before = await http.post("/api/tokens", json={"mailbox": "added"})
    assert before.status_code == 400, before.text
    mailboxes = {"work": {"folder": "work"}, "added": {"folder": "added"}}
    env = server_env(tmp_path, **admin_env(tmp_path, POP3_MAILBOXES=json.dumps(mailboxes)))
    assert reload(server.runtime, lambda: load_settings(env, cwd=tmp_path, home=tmp_path))
    minted = await _api(server, "POST", "/api/tokens", json={"mailbox": "added"})
    client = await trio.to_thread.run_sync(_login, server.plain_port, "jane", minted["token"])
    assert (await trio.to_thread.run_sync(client.stat))[0] == 1
    await trio.to_thread.run_sync(client.quit)
    server.shutdown.set()
