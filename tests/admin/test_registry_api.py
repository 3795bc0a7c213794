"""The operator's routes through the Quart test client: token registry and revocation,
app-password revocation, security view and forgive, audit, ending every session of a mailbox,
the overview. Each needs the admin token (or the UI cookie plus CSRF for changes) and answers
bad input with a 4xx JSON error."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
import trio

from admin.auth import CSRF_HEADER
from admin.deps import admin_context
from pop3srv.auth.apppassword import app_password_id
from pop3srv.auth.tokens import app_password, app_password_key
from tests.admin.conftest import BEARER, JWT_SECRET, Harness
from tests.admin.test_ui import LoggedIn, logged_in

__all__ = ["logged_in"]  # the fixture, shared with test_ui

NEW_ROUTES = [
    ("GET", "/api/tokens", False),
    ("DELETE", "/api/tokens/abc", True),
    ("POST", "/api/app-passwords/work/revoke", True),
    ("GET", "/api/security", False),
    ("DELETE", "/api/penalties/192.0.2.1", True),
    ("GET", "/api/audit", False),
    ("DELETE", "/api/sessions?mailbox=work", True),
    ("GET", "/api/overview", False),
]


async def _call(harness: Harness, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    send = getattr(harness.client(), method.lower())
    data = None if body is None else json.dumps(body)
    response = await send(path, headers=kw.pop("headers", BEARER), data=data)
    return response.status_code, await response.get_json(force=True, silent=True)


async def _mint(harness: Harness, **fields: Any) -> dict[str, Any]:
    status, body = await _call(harness, "POST", "/api/tokens", {"mailbox": "work", **fields})
    assert status == 200, body
    return dict(body)


@pytest.mark.parametrize(("method", "path", "unsafe"), NEW_ROUTES)
async def test_new_routes_need_the_admin_token(
    harness: Harness, method: str, path: str, unsafe: bool
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        status, body = await _call(harness, method, path, headers=headers)
        assert status == 401
        assert "error" in body
    assert harness.audit.entries()[0].action == "admin-login"
    assert harness.audit.entries()[0].outcome == "failed"


@pytest.mark.parametrize(("method", "path", "unsafe"), [r for r in NEW_ROUTES if r[2]])
async def test_cookie_requests_that_change_state_need_csrf(
    logged_in: LoggedIn, method: str, path: str, unsafe: bool
) -> None:
    send = getattr(logged_in.client, method.lower())
    response = await send(path, headers=logged_in.headers)  # the session cookie alone
    assert response.status_code == 403
    assert "CSRF" in (await response.get_json())["error"]
    cross = {**logged_in.headers, CSRF_HEADER: logged_in.csrf, "Origin": "http://evil.example"}
    response = await send(path, headers=cross)
    assert response.status_code == 403


async def test_cookie_with_csrf_reads_and_changes(logged_in: LoggedIn) -> None:
    for path in ("/api/tokens", "/api/security", "/api/audit", "/api/overview"):
        assert (await logged_in.client.get(path, headers=logged_in.headers)).status_code == 200
    headers = {**logged_in.headers, CSRF_HEADER: logged_in.csrf}
    response = await logged_in.client.delete("/api/sessions?mailbox=work", headers=headers)
    assert response.status_code == 200


async def test_mint_registers_the_token_with_label_and_jti(harness: Harness) -> None:
    minted = await _mint(harness, label="  Jane's   phone ", ttl=3600)
    claims = jwt.decode(minted["token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["jti"] == minted["jti"]
    status, tokens = await _call(harness, "GET", "/api/tokens")
    assert status == 200
    [record] = tokens
    assert record["jti"] == minted["jti"]
    assert (record["mailbox"], record["label"]) == ("work", "Jane's phone")
    assert record["created_at"] == claims["iat"]
    assert record["expires_at"] == minted["expires_at"] == claims["iat"] + 3600
    assert record["revoked_at"] is None
    assert record["minted_by"].endswith("(api)")
    assert "token" not in record
    entry = harness.audit.entries()[0]
    assert (entry.action, entry.target) == ("mint", "work")
    assert minted["jti"] in entry.detail and minted["token"] not in entry.detail


@pytest.mark.parametrize(
    ("label", "words"), [(7, "must be text"), ("x" * 121, "longer than"), (["a"], "must be text")]
)
async def test_mint_with_a_bad_label_is_400(harness: Harness, label: Any, words: str) -> None:
    status, body = await _call(harness, "POST", "/api/tokens", {"mailbox": "work", "label": label})
    assert status == 400
    assert body["field"] == "label" and words in body["error"]


async def test_revoke_marks_the_record_and_ends_its_sessions(harness: Harness) -> None:
    minted = await _mint(harness)
    other = await _mint(harness)
    registry = harness.registry
    with (
        registry.session("192.0.2.7:4000", "tls") as mine,
        registry.session("192.0.2.8:4000", "tls") as theirs,
    ):
        registry.update(mine, token_id=minted["jti"], mailbox="work")
        registry.update(theirs, token_id=other["jti"], mailbox="work")
        status, body = await _call(harness, "DELETE", f"/api/tokens/{minted['jti']}")
        assert status == 200, body
        assert body["revoked_at"] is not None
        assert body["sessions_ended"] == [mine.id]
        assert mine.cancel_scope.cancel_called and not theirs.cancel_scope.cancel_called
    assert harness.ledger is not None and harness.ledger.revoked(minted["jti"])
    again = await _call(harness, "DELETE", f"/api/tokens/{minted['jti']}")
    assert again[0] == 200 and again[1]["revoked_at"] == body["revoked_at"]
    assert harness.audit.entries()[0].action == "revoke"


async def test_revoke_unknown_token_is_404(harness: Harness) -> None:
    status, body = await _call(harness, "DELETE", "/api/tokens/nope")
    assert status == 404
    assert body["field"] == "jti"


async def test_app_password_revoke_bumps_the_version(harness: Harness) -> None:
    key = app_password_key(None, JWT_SECRET)
    assert key is not None
    before = await _call(harness, "POST", "/api/app-passwords", {"mailbox": "work"})
    assert before[1]["password"] == app_password(key, "work", 1)
    with harness.registry.session("192.0.2.7:4000", "tls") as record:
        harness.registry.update(record, token_id=app_password_id("work"), mailbox="work")
        status, body = await _call(harness, "POST", "/api/app-passwords/work/revoke")
        assert status == 200
        assert (body["version"], body["sessions_ended"]) == (2, [record.id])
    after = await _call(harness, "POST", "/api/app-passwords", {"mailbox": "work"})
    assert after[1]["password"] == app_password(key, "work", 2)
    assert (await _call(harness, "POST", "/api/app-passwords/work/revoke"))[1]["version"] == 3


async def test_app_password_revoke_of_unknown_mailbox_is_404(harness: Harness) -> None:
    status, body = await _call(harness, "POST", "/api/app-passwords/nope/revoke")
    assert status == 404 and body["field"] == "mailbox"


async def test_security_lists_failures_and_delays_and_forgive_clears(harness: Harness) -> None:
    harness.failures.record("192.0.2.9", "mallory", "user", "bad-credentials")
    for _ in range(4):
        harness.login_penalty.failed("192.0.2.9")
    status, body = await _call(harness, "GET", "/api/security")
    assert status == 200
    [failure] = body["failed_logins"]
    assert failure["address"] == "192.0.2.9" and failure["user"] == "mallory"
    assert (failure["method"], failure["reason"]) == ("user", "bad-credentials")
    assert body["delayed"] == [{"address": "192.0.2.9", "delay_seconds": 2.0, "failures": 4}]
    status, body = await _call(harness, "DELETE", "/api/penalties/192.0.2.9")
    assert (status, body) == (200, {"address": "192.0.2.9", "forgiven": True})
    assert harness.login_penalty.delay("192.0.2.9") == 0
    assert (await _call(harness, "GET", "/api/security"))[1]["delayed"] == []
    assert harness.audit.entries()[0].action == "forgive"


@pytest.mark.parametrize(
    ("address", "status"),
    [("192.0.2.200", 404), ("2001:db8::/64", 404), ("not-an-address", 400), ("1" * 80, 400)],
)
async def test_forgive_bad_or_unknown_address(harness: Harness, address: str, status: int) -> None:
    got, body = await _call(harness, "DELETE", f"/api/penalties/{address}")
    assert got == status
    assert body["field"] == "address"


async def test_end_every_session_of_a_mailbox(harness: Harness) -> None:
    registry = harness.registry
    with (
        registry.session("192.0.2.1:1", "tls") as a,
        registry.session("192.0.2.2:2", "tls") as b,
        registry.session("192.0.2.3:3", "tls") as c,
    ):
        registry.update(a, mailbox="work")
        registry.update(b, mailbox="other")
        registry.update(c, mailbox="work")
        status, body = await _call(harness, "DELETE", "/api/sessions?mailbox=work")
        assert status == 200
        assert body == {"mailbox": "work", "ended": [a.id, c.id]}
        assert not b.cancel_scope.cancel_called
    assert harness.metrics.admin_sessions_ended_total._value.get() == 2
    entry = harness.audit.entries()[0]
    assert (entry.action, entry.target, entry.outcome) == ("kick", "mailbox work", "ok")


async def test_a_mailbox_kick_that_ends_nothing_is_audited_as_such(harness: Harness) -> None:
    """ops-6: it was audited ``kick ok`` with an empty detail, as if it had ended something."""
    status, body = await _call(harness, "DELETE", "/api/sessions?mailbox=nobody")
    assert status == 200 and body["ended"] == []
    entry = harness.audit.entries()[0]
    assert (entry.outcome, entry.detail) == ("none", "no live session")


@pytest.mark.parametrize("query", ["", "?mailbox=", "?mailbox=%20"])
async def test_end_mailbox_sessions_needs_a_name(harness: Harness, query: str) -> None:
    status, body = await _call(harness, "DELETE", f"/api/sessions{query}")
    assert status == 400 and body["field"] == "mailbox"


async def test_session_snapshots_show_the_mailbox(harness: Harness) -> None:
    with harness.registry.session("192.0.2.1:1", "tls") as record:
        harness.registry.update(record, user="bob", mailbox="work")
        status, sessions = await _call(harness, "GET", "/api/sessions")
    assert status == 200 and sessions[0]["mailbox"] == "work"
    assert "token_id" not in sessions[0]


async def test_audit_is_newest_first_and_written_to_state_dir(harness: Harness) -> None:
    await _mint(harness, label="first")
    await _call(harness, "DELETE", "/api/sessions?mailbox=work")
    status, entries = await _call(harness, "GET", "/api/audit")
    assert status == 200
    assert [e["action"] for e in entries] == ["kick", "mint"]
    assert set(entries[0]) == {"time", "action", "admin", "target", "outcome", "detail"}
    assert harness.audit.path is not None
    lines = harness.audit.path.read_text().splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["mint", "kick"]
    assert harness.audit.path.stat().st_mode & 0o777 == 0o600


async def test_overview_reports_server_and_history(harness: Harness) -> None:
    ctx = admin_context(harness.app)
    assert ctx.sampler is not None
    harness.metrics.s3_requests_total.labels("list_objects_v2", "denied")  # exported at 0
    ctx.sampler.sample()
    assert ctx.sampler.last_store_error is None
    harness.metrics.auth_attempts_total.labels("user", "success").inc(3)
    harness.metrics.auth_attempts_total.labels("user", "failure").inc(1)
    harness.metrics.bytes_sent_total.inc(5000)
    harness.metrics.s3_requests_total.labels("get_object", "unavailable").inc()
    ctx.sampler.sample()
    status, body = await _call(harness, "GET", "/api/overview")
    assert status == 200
    assert body["version"] == "9.9.9"
    assert body["listeners"] == {"plain": ["127.0.0.1:2110"]}
    assert body["sessions"] == 0 and body["uptime_seconds"] > 0
    assert body["store"]["last_error"] == "get_object unavailable"
    point = body["history"][-1]
    assert point["logins_per_minute"] > 0 and point["failures_per_minute"] > 0
    assert point["bytes_per_second"] > 0


async def test_sampler_runs_while_the_app_serves(harness: Harness) -> None:
    ctx = admin_context(harness.app)
    assert ctx.sampler is not None
    ctx.sampler.interval = 0.05
    with trio.fail_after(5):
        async with harness.app.test_app():  # startup and shutdown, as when served
            while len(ctx.sampler.points) < 3:
                await trio.sleep(0.05)
    count = len(ctx.sampler.points)
    await trio.sleep(0.2)
    assert len(ctx.sampler.points) == count  # stopped with the app
