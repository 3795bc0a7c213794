"""The web UI through the Quart test client: login (double-submit CSRF), cookie flags, the page
(escaped), the API and websocket with the session cookie (CSRF header, Origin), logout."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as QuartClient

from admin.auth import CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE
from admin.deps import admin_context
from tests.admin.conftest import ADMIN_TOKEN, Harness

LOOPBACK = {"server": ("127.0.0.1", 8080)}
ORIGIN = "http://localhost"


def _cookies(response: Any) -> dict[str, SimpleCookie]:
    jar: dict[str, SimpleCookie] = {}
    for header in response.headers.getlist("Set-Cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            jar[name] = cookie
    return jar


def _hidden_csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


@dataclass
class LoggedIn:
    client: QuartClient
    cookie: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}"}


async def ui_login(app: Quart, token: str = ADMIN_TOKEN) -> tuple[Any, QuartClient]:
    """Logs in through the form as a browser does (its CSRF cookie and hidden field)."""
    client = app.test_client(use_cookies=False)
    form = await client.get("/login", scope_base=LOOPBACK)
    login_csrf = _cookies(form)[LOGIN_COOKIE][LOGIN_COOKIE].value
    assert _hidden_csrf(await form.get_data(True)) == login_csrf
    response = await client.post(
        "/login",
        form={"token": token, "csrf": login_csrf},
        headers={"Cookie": f"{LOGIN_COOKIE}={login_csrf}"},
        scope_base=LOOPBACK,
    )
    return response, client


@pytest.fixture
async def logged_in(harness: Harness) -> LoggedIn:
    response, client = await ui_login(harness.app)
    assert response.status_code == 303
    cookie = _cookies(response)[SESSION_COOKIE][SESSION_COOKIE].value
    page = await client.get("/", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert page.status_code == 200
    return LoggedIn(client, cookie, _hidden_csrf(await page.get_data(True)))


async def test_page_redirects_to_login(harness: Harness) -> None:
    response = await harness.client().get("/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"


async def test_login_form_sets_a_strict_httponly_csrf_cookie(harness: Harness) -> None:
    response = await harness.client().get("/login", scope_base=LOOPBACK)
    assert response.status_code == 200
    morsel = _cookies(response)[LOGIN_COOKIE][LOGIN_COOKIE]
    assert morsel["httponly"] and morsel["secure"]
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/login"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_login_sets_session_cookie_flags(harness: Harness) -> None:
    response, _ = await ui_login(harness.app)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    morsel = _cookies(response)[SESSION_COOKIE][SESSION_COOKIE]
    assert morsel["httponly"]
    assert morsel["secure"]  # loopback: browsers keep Secure cookies on http://127.0.0.1
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert harness.metrics.admin_logins_total.labels("ok")._value.get() == 1


async def test_cookie_not_secure_on_plain_http_off_loopback(harness: Harness) -> None:
    response = await harness.client().get("/login", scope_base={"server": ("192.0.2.1", 80)})
    assert not _cookies(response)[LOGIN_COOKIE][LOGIN_COOKIE]["secure"]
    response = await harness.client().get("/login", scheme="https")
    assert _cookies(response)[LOGIN_COOKIE][LOGIN_COOKIE]["secure"]


async def test_login_with_wrong_token_is_refused(harness: Harness) -> None:
    response, _ = await ui_login(harness.app, token="wrong")
    assert response.status_code == 401
    assert SESSION_COOKIE not in _cookies(response)
    assert "Wrong admin token" in await response.get_data(True)
    assert harness.metrics.admin_logins_total.labels("failed")._value.get() == 1


@pytest.mark.parametrize("csrf", ["", "forged"])
async def test_login_without_matching_csrf_is_refused(harness: Harness, csrf: str) -> None:
    client = harness.app.test_client(use_cookies=False)
    response = await client.post(
        "/login",
        form={"token": ADMIN_TOKEN, "csrf": csrf},
        headers={"Cookie": f"{LOGIN_COOKIE}=real"},
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in _cookies(response)


async def test_page_escapes_and_shows_client_settings(logged_in: LoggedIn) -> None:
    page = await (await logged_in.client.get("/", headers=logged_in.headers)).get_data(True)
    assert "team&lt;b&gt;" in page and "team<b>" not in page
    assert "mail.example.org" in page
    assert 'id="result-tls-port">995<' in page
    assert 'id="result-plain-port">110<' in page
    assert '<meta name="csrf-token" content="' in page


async def test_cookie_session_reads_the_api(harness: Harness, logged_in: LoggedIn) -> None:
    response = await logged_in.client.get("/api/sessions", headers=logged_in.headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({}, 403),
        ({CSRF_HEADER: "forged"}, 403),
        ("csrf", 200),
        ("csrf+cross-origin", 403),
        ("csrf+same-origin", 200),
    ],
)
async def test_cookie_session_needs_csrf_to_change_state(
    logged_in: LoggedIn, extra: dict[str, str] | str, status: int
) -> None:
    headers = dict(logged_in.headers)
    if isinstance(extra, str):
        headers[CSRF_HEADER] = logged_in.csrf
        if extra.endswith("cross-origin"):
            headers["Origin"] = "http://evil.example"
        elif extra.endswith("same-origin"):
            headers["Origin"] = ORIGIN
    else:
        headers.update(extra)
    response = await logged_in.client.post(
        "/api/tokens", data='{"provider": "demo"}', headers=headers
    )
    assert response.status_code == status, await response.get_data(True)
    if status == 403:
        assert "error" in await response.get_json()


async def test_websocket_with_cookie_needs_same_origin(
    harness: Harness, logged_in: LoggedIn
) -> None:
    client = logged_in.client
    for origin, accepted in ((ORIGIN, True), ("http://evil.example", False), (None, False)):
        headers = dict(logged_in.headers)
        if origin:
            headers["Origin"] = origin
        async with client.websocket("/api/sessions/live", headers=headers) as ws:
            if accepted:
                assert (await ws.receive_json())["type"] == "snapshot"
        if not accepted:
            assert ws.status_code == 403  # type: ignore[attr-defined]


async def test_logout_needs_csrf_then_ends_the_session(logged_in: LoggedIn) -> None:
    client = logged_in.client
    refused = await client.post("/logout", form={"csrf": "x"}, headers=logged_in.headers)
    assert refused.status_code == 403
    response = await client.post(
        "/logout", form={"csrf": logged_in.csrf}, headers=logged_in.headers
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    after = await client.get("/api/sessions", headers=logged_in.headers)
    assert after.status_code == 401
    assert (await client.get("/", headers=logged_in.headers)).status_code == 303


async def test_static_assets_are_served(harness: Harness) -> None:
    for name in ("admin.js", "admin.css"):
        response = await harness.client().get(f"/static/{name}")
        assert response.status_code == 200
    for name in ("common.js", "admin.js", "console.js", "favicon.svg"):
        response = await harness.client().get(f"/static/{name}")
        assert response.status_code == 200
        script = await response.get_data(True)
        assert "innerHTML" not in script and "insertAdjacentHTML" not in script
        assert "http://" not in script.replace("http://www.w3.org/2000/svg", "")  # no CDN


async def test_wrong_tokens_slow_that_address_down(harness: Harness) -> None:
    for _ in range(3):
        response, _ = await ui_login(harness.app, token="wrong")
        assert response.status_code == 401
    penalty = admin_context(harness.app).deps.penalty
    address = "<local>"  # the Quart test client's remote address
    assert penalty.delay(address) == 1.0  # free failures used up: the next attempt waits
    assert penalty.delay("192.0.2.1") == 0
