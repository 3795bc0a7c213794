"""Probe 5: behind the TLS proxy docs/admin.md asks for, the UI could change nothing.

The app speaks plain HTTP; a TLS proxy in front (stunnel, nginx, a Kubernetes ingress) makes the
browser's ``Origin`` ``https://admin.example.org`` while the app sees ``http``. ``same_origin``
compared the scheme too, so every state-changing call of the UI (mint, revoke, end session)
was refused as cross-origin (403) and the live websocket was refused (403): an operator
following the docs got a console that only reads. The scheme may differ by exactly that step
(app http / browser https); the host must still match, and the CSRF token is still required."""

from __future__ import annotations

import pytest

from admin.auth import CSRF_HEADER, same_origin
from tests.admin.conftest import Harness
from tests.admin.test_ui import LoggedIn, logged_in

__all__ = ["logged_in"]


@pytest.mark.parametrize(
    ("origin", "scheme", "host", "same"),
    [
        ("https://admin.example.org", "http", "admin.example.org", True),  # TLS proxy
        ("https://admin.example.org", "ws", "admin.example.org", True),
        ("http://admin.example.org", "http", "admin.example.org", True),
        ("https://admin.example.org", "https", "admin.example.org", True),
        ("http://admin.example.org", "https", "admin.example.org", False),  # downgrade
        ("http://admin.example.org", "wss", "admin.example.org", False),
        ("https://evil.example", "http", "admin.example.org", False),
        ("https://admin.example.org:444", "http", "admin.example.org", False),
        ("null", "http", "admin.example.org", False),
        (None, "http", "admin.example.org", False),
    ],
)
def test_same_origin_allows_the_tls_proxy_step_only(
    origin: str | None, scheme: str, host: str, same: bool
) -> None:
    assert same_origin(origin, scheme, host) is same


async def test_the_ui_can_mint_behind_a_tls_proxy(harness: Harness, logged_in: LoggedIn) -> None:
    headers = {**logged_in.headers, CSRF_HEADER: logged_in.csrf, "Origin": "https://localhost"}
    response = await logged_in.client.post(
        "/api/tokens", data='{"provider": "demo"}', headers=headers
    )
    assert response.status_code == 200, await response.get_data(True)
    async with logged_in.client.websocket(
        "/api/sessions/live", headers={**logged_in.headers, "Origin": "https://localhost"}
    ) as ws:
        assert (await ws.receive_json())["type"] == "snapshot"
