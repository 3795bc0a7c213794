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
