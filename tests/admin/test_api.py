"""Every admin route through the Quart test client: probes, the JSON API, auth failures, bad
input (400 naming the field), unknown sessions and mailboxes."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
import trio
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from admin.minting import DEFAULT_TTL, MAX_TTL
from pop3srv.auth.tokens import app_password, app_password_key
from tests.admin.conftest import (
    ADMIN_TOKEN,
    BEARER,
    JWT_SECRET,
    Harness,
    HarnessFactory,
)


async def _post(harness: Harness, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = await harness.client().post(path, data=data, headers=kw.pop("headers", BEARER))
    return response.status_code, await response.get_json(force=True, silent=True)


async def test_healthz_without_auth(harness: Harness) -> None:
    response = await harness.client().get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readyz_follows_readiness(harness: Harness) -> None:
    harness.ready[0] = False
    assert (await harness.client().get("/readyz")).status_code == 503
    harness.ready[0] = True
    response = await harness.client().get("/readyz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ready"}


async def test_metrics_exposition_without_auth(harness: Harness) -> None:
    harness.metrics.commands_total.labels("STAT", "ok").inc(3)
    response = await harness.client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    families = {f.name: f for f in text_string_to_metric_families(await response.get_data(True))}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for s in families["pop3_commands"].samples
    }
    assert samples[("pop3_commands_total", (("command", "STAT"), ("outcome", "ok")))] == 3
    for name in ("pop3_connections_active", "s3_request_duration_seconds", "pop3_admin_logins"):
        assert name in families


async def test_sessions_lists_live_sessions(harness: Harness) -> None:
    with harness.registry.session("192.0.2.7:4000", "tls") as record:
        harness.registry.update(record, user="bob", state="TRANSACTION")
        response = await harness.client().get("/api/sessions", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    [session] = await response.get_json()
    assert session["id"] == record.id
    assert (session["peer"], session["listener"], session["user"]) == (
        "192.0.2.7:4000",
        "tls",
        "bob",
    )
    assert set(session) == {
        "id",
        "peer",
        "listener",
        "user",
        "mailbox",
        "state",
        "since",
        "commands",
        "bytes_sent",
        "last_activity",
        "ended_by",
    }


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "authentication required"),
        ({"Authorization": "Bearer wrong"}, 401, "invalid admin token"),
        ({"Authorization": f"Basic {ADMIN_TOKEN}"}, 401, "invalid admin token"),
        ({"Authorization": "Bearer"}, 401, "invalid admin token"),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, 401, "invalid admin token"),
    ],
    ids=["no-token", "wrong-token", "other-scheme", "empty-bearer", "longer-token"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/sessions"),
        ("DELETE", "/api/sessions/s1"),
        ("POST", "/api/tokens"),
        ("POST", "/api/app-passwords"),
    ],
)
async def test_api_refuses_without_the_admin_token(
    harness: Harness, method: str, path: str, headers: dict[str, str], status: int, message: str
) -> None:
    send = getattr(harness.client(), method.lower())
    response = await send(path, headers=headers, data="{}")
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert message in (await response.get_json())["error"]


async def test_end_session_kicks_it(harness: Harness) -> None:
    with harness.registry.session("192.0.2.7:4000", "plain") as record:
        response = await harness.client().delete(f"/api/sessions/{record.id}", headers=BEARER)
        assert response.status_code == 200
        assert await response.get_json() == {"id": record.id, "ended": True}
        assert record.cancel_scope.cancel_called
    assert harness.metrics.admin_sessions_ended_total._value.get() == 1


async def test_end_unknown_session_is_404(harness: Harness) -> None:
    response = await harness.client().delete("/api/sessions/s999", headers=BEARER)
    assert response.status_code == 404
    body = await response.get_json()
    assert body["field"] == "id"
    assert "s999" in body["error"]


async def test_unknown_api_route_and_method_are_json(harness: Harness) -> None:
    response = await harness.client().get("/api/nothing", headers=BEARER)
    assert response.status_code == 404
    assert "error" in await response.get_json()
    response = await harness.client().put("/api/tokens", headers=BEARER)
    assert response.status_code == 405
    assert "error" in await response.get_json()


async def test_oversized_body_is_refused(harness: Harness) -> None:
    status, body = await _post(harness, "/api/tokens", {"bucket": "b" * 100_000})
    assert status == 413
    assert "error" in body


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    return claims


async def test_mint_token_for_a_bucket(harness: Harness) -> None:
    request = {
        "bucket": "mail-bucket",
        "prefix": "inbox/",
        "region": "eu-west-1",
        "awsAccessKeyID": "AKIDEXAMPLE",
        "awsSecretAccessKey": "secret/key",
        "ttl": 3600,
    }
    status, body = await _post(harness, "/api/tokens", request)
    assert status == 200, body
    claims = _claims(body["token"])
    assert {k: claims[k] for k in request if k != "ttl"} == {
        k: v for k, v in request.items() if k != "ttl"
    }
    assert body["expires_at"] == claims["exp"] == claims["iat"] + 3600


async def test_mint_token_for_a_mailbox_defaults_to_90_days(harness: Harness) -> None:
    status, body = await _post(harness, "/api/tokens", {"mailbox": "work"})
    assert status == 200
    claims = _claims(body["token"])
    assert claims["mailbox"] == "work"
    assert claims["exp"] - claims["iat"] == DEFAULT_TTL


async def test_mint_token_without_expiry(harness: Harness) -> None:
    status, body = await _post(harness, "/api/tokens", {"provider": "demo", "ttl": None})
    assert status == 200
    assert body["expires_at"] is None
    assert "exp" not in _claims(body["token"])


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ([1, 2], "body", "JSON object"),
        ("{not json", "body", "not valid JSON"),
        (b"\xff\xfe", "body", "not valid JSON"),
        ({"bucket": "b", "colour": "red"}, "colour", "unknown field"),
        ({"bucket": 7}, "bucket", "must be text"),
        ({"bucket": ""}, "bucket", "must not be empty"),
        ({"bucket": "b" * 2000}, "bucket", "longer than"),
        ({}, "bucket", "required"),
        ({"prefix": "p/"}, "bucket", "required"),
        ({"mailbox": "nope"}, "mailbox", "unknown mailbox"),
        ({"mailbox": "work", "bucket": "b"}, "bucket", "cannot be combined"),
        ({"provider": "ftp"}, "provider", "must be one of"),
        ({"provider": "demo", "bucket": "b"}, "bucket", "not used with provider demo"),
        ({"bucket": "b", "awsAccessKeyID": "AK"}, "awsSecretAccessKey", "required together"),
        ({"bucket": "b", "awsSecretAccessKey": "s"}, "awsAccessKeyID", "required together"),
        ({"bucket": "b", "awsSessionToken": "t"}, "awsAccessKeyID", "required together"),
        ({"bucket": "b", "ttl": "3600"}, "ttl", "whole number"),
        ({"bucket": "b", "ttl": 1.5}, "ttl", "whole number"),
        ({"bucket": "b", "ttl": True}, "ttl", "whole number"),
        ({"bucket": "b", "ttl": 0}, "ttl", "between 1 and"),
        ({"bucket": "b", "ttl": MAX_TTL + 1}, "ttl", "between 1 and"),
    ],
)
async def test_mint_token_bad_input_names_the_field(
    harness: Harness, body: Any, field: str, words: str
) -> None:
    status, answer = await _post(harness, "/api/tokens", body)
    assert status == 400
    assert answer["field"] == field
    assert answer["error"].startswith(f"{field}: ")
    assert words in answer["error"]


async def test_mint_token_without_jwt_secret_is_409(harness_with: HarnessFactory) -> None:
    harness = harness_with(POP3_JWT_SECRET="", POP3_AUTH_PROVIDERS='["static"]')
    status, body = await _post(harness, "/api/tokens", {"provider": "demo"})
    assert status == 409
    assert "jwt-secret" in body["error"]


async def test_mint_token_with_kid_secret_only(harness_with: HarnessFactory) -> None:
    secrets = json.dumps({"old": "o" * 32, "new": "n" * 32})
    harness = harness_with(
        POP3_JWT_SECRET="", POP3_JWT_SECRETS=secrets, POP3_AUTH_PROVIDERS='["jwt"]'
    )
    status, body = await _post(harness, "/api/tokens", {"provider": "none"})
    assert status == 200
    assert jwt.get_unverified_header(body["token"])["kid"] == "new"
    jwt.decode(body["token"], "n" * 32, algorithms=["HS256"])


async def test_mint_app_password(harness: Harness) -> None:
    status, body = await _post(harness, "/api/app-passwords", {"mailbox": "work"})
    assert status == 200
    key = app_password_key(None, JWT_SECRET)
    assert key is not None
    assert body == {"password": app_password(key, "work", 1), "mailbox": "work"}
    minted = harness.metrics.admin_passwords_minted_total.labels("app-password")._value.get()
    assert minted == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"mailbox": "nope"}, 404, "mailbox"),
        ({}, 400, "mailbox"),
        ({"mailbox": 3}, 400, "mailbox"),
        ({"mailbox": "work", "ttl": 3}, 400, "ttl"),
        ("[]", 400, "body"),
        ("nope", 400, "body"),
    ],
)
async def test_mint_app_password_bad_input(
    harness: Harness, body: Any, status: int, field: str
) -> None:
    got, answer = await _post(harness, "/api/app-passwords", body)
    assert got == status
    assert answer["field"] == field


async def test_mint_app_password_unavailable_is_409(harness_with: HarnessFactory) -> None:
    harness = harness_with(POP3_JWT_SECRET="", POP3_AUTH_PROVIDERS='["static"]')
    status, body = await _post(harness, "/api/app-passwords", {"mailbox": "work"})
    assert status == 409
    assert "app-password-secret" in body["error"]


async def test_live_websocket_refuses_without_token(harness: Harness) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        async with harness.client().websocket("/api/sessions/live", headers=headers) as ws:
            pass
        assert ws.status_code == 401  # type: ignore[attr-defined]


async def test_live_websocket_snapshot_then_changes(harness: Harness) -> None:
    registry = harness.registry
    with registry.session("192.0.2.1:1000", "plain"):
        async with harness.client().websocket("/api/sessions/live", headers=BEARER) as ws:
            first = await ws.receive_json()
            assert first["type"] == "snapshot"
            assert [s["peer"] for s in first["sessions"]] == ["192.0.2.1:1000"]
            with registry.session("192.0.2.2:2000", "tls") as second:
                opened = await ws.receive_json()
                assert opened["type"] == "open"
                assert opened["session"]["id"] == second.id
                registry.update(second, user="carol", state="TRANSACTION")
                updated = await ws.receive_json()
                assert (updated["type"], updated["session"]["user"]) == ("update", "carol")
            assert await ws.receive_json() == {"type": "close", "id": second.id}
            second.commands = 99  # counters bumped without notice arrive on the next refresh
            assert harness.metrics.admin_live_clients._value.get() == 1


async def test_live_websocket_sends_counter_changes(harness: Harness) -> None:
    with harness.registry.session("192.0.2.1:1000", "plain") as record:
        async with harness.client().websocket("/api/sessions/live", headers=BEARER) as ws:
            assert (await ws.receive_json())["type"] == "snapshot"
            record.commands = 5
            record.bytes_sent = 1234
            with trio.fail_after(5):
                message = await ws.receive_json()
            assert message["type"] == "update"
            assert (message["session"]["commands"], message["session"]["bytes_sent"]) == (5, 1234)


async def test_wrong_bearer_tokens_get_429_for_a_while(harness: Harness) -> None:
    wrong = {"Authorization": "Bearer nope"}
    statuses = [
        (await harness.client().get("/api/sessions", headers=wrong)).status_code for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]  # after the free failures the address waits
    response = await harness.client().get("/api/sessions", headers=BEARER)
    assert response.status_code == 429  # even the right token waits out the penalty
    assert response.headers["Retry-After"] == "1"
