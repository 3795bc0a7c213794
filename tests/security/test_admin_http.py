"""Issue 13, items 17 and 18: what the admin app answers to whom, and how it shows user names."""

from __future__ import annotations

from dataclasses import replace

import pytest

from admin.app import create_app
from admin.deps import admin_context
from tests.admin.conftest import BEARER, Harness


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 421),
        ("evil.example:8080", 421),
        ("localhost:8080", 200),
        ("127.0.0.1:8080", 200),
        ("[::1]:8080", 200),
        ("192.0.2.10:8080", 200),  # an IP literal cannot be rebound
        ("admin.example.org:8080", 200),  # admin-allowed-hosts
        ("ADMIN.example.org.", 200),
    ],
)
async def test_i18_admin_app_answers_only_known_host_names(
    harness: Harness, host: str, status: int
) -> None:
    """DNS rebinding: a foreign Host name gets 421, on /metrics and the API (before: 200)."""
    deps = replace(admin_context(harness.app).deps, allowed_hosts=("admin.example.org",))
    client = create_app(deps).test_client()
    assert (await client.get("/metrics", headers={"Host": host})).status_code == status
    api = await client.get("/api/sessions", headers={"Host": host, **BEARER})
    assert api.status_code == status
    assert (await client.get("/healthz", headers={"Host": host})).status_code == 200
    if status != 200:
        async with client.websocket("/api/sessions/live", headers={"Host": host, **BEARER}) as ws:
            pass
        assert ws.status_code == status  # type: ignore[attr-defined]


async def test_i17_session_list_shows_the_mailbox_and_escapes_invisible_characters(
    harness: Harness,
) -> None:
    """A JWT/callback login's client-chosen USER (bidi override, escape sequence, 16 KiB) is
    shown escaped and cut, next to the mailbox the session really holds (before: verbatim,
    and no mailbox)."""
    chosen = "admin\u202etxt.exe\x1b[31m\\" + "x" * 16_000
    with harness.registry.session("192.0.2.1:1", "tls") as record:
        harness.registry.update(record, user=chosen, mailbox="s3:aws/mail/jane")
        response = await harness.client().get("/api/sessions", headers=BEARER)
        [session] = await response.get_json()
    assert session["mailbox"] == "s3:aws/mail/jane"
    assert session["user"].startswith("admin\\u202etxt.exe\\u001b[31m\\\\xxx")
    assert session["user"].endswith("…") and len(session["user"]) < 300
