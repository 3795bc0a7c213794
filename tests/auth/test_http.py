"""The HTTP basic-auth callback against a real HTTP server on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pop3srv.auth.base import AuthFailed, AuthUnavailable, LoginContext, Principal
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.http import HttpCallbackAuthenticator
from pop3srv.storage.base import EmptyLocation, S3Location

CTX = LoginContext()
BASIC = "Basic " + base64.b64encode(b"jane@example.com:s3cret pass").decode()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _auth(
    server: HTTPServer, client: httpx.AsyncClient, timeout: float = 5.0
) -> HttpCallbackAuthenticator:
    return HttpCallbackAuthenticator(
        server.url_for("/auth"), client, MailboxResolver(mail_dir=Path("/m")), timeout=timeout
    )


async def _login(auth: HttpCallbackAuthenticator) -> Principal:
    return await auth.authenticate("jane@example.com", "s3cret pass", CTX)


async def test_accepted_with_claims_in_the_original_shape(
    httpserver: HTTPServer, client: httpx.AsyncClient
) -> None:
    body = {"bucket": "mail", "prefix": "jane/", "region": "eu-west-1"}
    httpserver.expect_request("/auth", headers={"Authorization": BASIC}).respond_with_json(body)
    principal = await _login(_auth(httpserver, client))
    assert principal.location == S3Location(bucket="mail", prefix="jane/", region="eu-west-1")


async def test_provider_none_body(httpserver: HTTPServer, client: httpx.AsyncClient) -> None:
    httpserver.expect_request("/auth").respond_with_json({"provider": "none"})
    assert (await _login(_auth(httpserver, client))).location == EmptyLocation()


@pytest.mark.parametrize("status", [401, 403, 404, 400])
async def test_refusals_are_auth_failures(
    httpserver: HTTPServer, client: httpx.AsyncClient, status: int
) -> None:
    httpserver.expect_request("/auth").respond_with_data("no", status=status)
    with pytest.raises(AuthFailed):
        await _login(_auth(httpserver, client))


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_outages(
    httpserver: HTTPServer, client: httpx.AsyncClient, status: int
) -> None:
    httpserver.expect_request("/auth").respond_with_data("oops", status=status)
    with pytest.raises(AuthUnavailable):
        await _login(_auth(httpserver, client))


@pytest.mark.parametrize(
    "body",
    ["not json", "[1, 2]", json.dumps({"bucket": 5}), json.dumps({"provider": "ftp"}), "x" * 70000],
    ids=["non-json", "json-list", "bucket-not-text", "unknown-provider", "oversized"],
)
async def test_malformed_bodies_are_refused(
    httpserver: HTTPServer, client: httpx.AsyncClient, body: str
) -> None:
    httpserver.expect_request("/auth").respond_with_data(body, content_type="application/json")
    with pytest.raises(AuthFailed):
        await _login(_auth(httpserver, client))


async def test_redirect_is_refused_and_not_followed(
    httpserver: HTTPServer, client: httpx.AsyncClient
) -> None:
    httpserver.expect_request("/auth").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    httpserver.expect_request("/elsewhere").respond_with_json({"provider": "none"})
    with pytest.raises(AuthFailed):
        await _login(_auth(httpserver, client))
    assert [r.path for r, _ in httpserver.log] == ["/auth"]


async def test_timeout_is_an_outage(httpserver: HTTPServer, client: httpx.AsyncClient) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/auth").respond_with_handler(slow)
    with pytest.raises(AuthUnavailable):
        await _login(_auth(httpserver, client, timeout=0.3))


async def test_connection_refused_is_an_outage(client: httpx.AsyncClient) -> None:
    auth = HttpCallbackAuthenticator(
        "http://127.0.0.1:9/auth", client, MailboxResolver(mail_dir=Path("/m"))
    )
    with pytest.raises(AuthUnavailable):
        await auth.authenticate("u", "p", CTX)
