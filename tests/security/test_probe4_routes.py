"""Security probe 4: every route of the admin app, found from its URL map (so a route added
later is covered too), refuses a request without credentials, except the open probes, the
login form and the static files."""

from __future__ import annotations

import re

from quart.testing.connections import WebsocketResponseError

from tests.admin.conftest import Harness

OPEN = {"/healthz", "/readyz", "/metrics", "/login", "/logout", "/static/<path:filename>"}


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "x", rule)


async def _websocket_status(harness: Harness, path: str) -> int:
    """The HTTP status a websocket handshake was refused with (0: it was accepted)."""
    statuses: list[int] = []
    try:
        async with harness.client().websocket(path) as socket:
            await socket.receive()
    except* WebsocketResponseError as group:
        statuses += [
            int(error.response.status_code)
            for error in group.exceptions
            if isinstance(error, WebsocketResponseError)
        ]
    return statuses[0] if statuses else 0


async def test_every_route_needs_credentials(harness: Harness) -> None:
    client = harness.client()
    checked = 0
    for rule in harness.app.url_map.iter_rules():
        if rule.rule in OPEN:
            continue
        path = _concrete(rule.rule)
        if rule.websocket:
            assert await _websocket_status(harness, path) == 401, rule.rule
            checked += 1
            continue
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            response = await client.open(path, method=method, json=None)
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, rule.rule)
            else:  # the UI page: to the login form
                assert response.status_code == 303, (method, rule.rule)
                assert response.headers["Location"] == "/login"
            checked += 1
    assert checked >= 15  # the API, the live websocket and the UI page
