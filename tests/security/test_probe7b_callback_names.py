"""Probe 7b: user names with a space (USER takes the rest of the line now) reach the HTTP
login callback whole, in basic auth, as the user typed them; a name with ":" never reaches
it (basic auth would split ``victim:guess`` as user ``victim``); a UTF-8 name arrives as
UTF-8. A real HTTP server on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pop3srv.auth.base import AuthFailed, LoginContext
from tests.security.support import callback_auth


def _recording(seen: list[bytes]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        scheme, _, encoded = request.headers["Authorization"].partition(" ")
        assert scheme == "Basic"
        seen.append(base64.b64decode(encoded))
        return Response(
            '{"bucket": "mail", "region": "us-east-1"}', 200, content_type="application/json"
        )

    return handler


@pytest.mark.parametrize(
    ("user", "sent"),
    [
        ("jane doe@example.com", b"jane doe@example.com:pw x"),
        ("jos\u00e9 doe", "jos\u00e9 doe:pw x".encode()),
    ],
)
async def test_a_name_with_a_space_arrives_whole(
    httpserver: HTTPServer, client: httpx.AsyncClient, user: str, sent: bytes
) -> None:
    seen: list[bytes] = []
    httpserver.expect_request("/auth").respond_with_handler(_recording(seen))
    principal = await callback_auth(httpserver, client).authenticate(user, "pw x", LoginContext())
    assert seen == [sent]
    assert principal.user == user


async def test_a_name_with_a_colon_is_refused_without_a_call(
    httpserver: HTTPServer, client: httpx.AsyncClient
) -> None:
    seen: list[bytes] = []
    httpserver.expect_request("/auth").respond_with_handler(_recording(seen))
    with pytest.raises(AuthFailed):
        await callback_auth(httpserver, client).authenticate("victim:guess", "x", LoginContext())
    assert seen == []
