"""Security probe 4: the login callback's reply is read within ``MAX_BODY`` after decoding.

httpx inflates each received chunk of a gzip body whole, so a 400 KB gzip "bomb" from the
callback made one login allocate ~67 MB at once (130 MB more peak RSS of a running server).
The callback is now asked for an uncompressed reply, and a compressed one is inflated here,
never past the limit; other content codings are refused as a malformed body."""

from __future__ import annotations

import gzip
import json
import logging
import ssl
import tracemalloc
import zlib

import httpx
import pytest
import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pop3srv.auth.base import AuthFailed, AuthUnavailable, LoginContext
from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.http import MAX_BODY, HttpCallbackAuthenticator
from pop3srv.storage.base import EmptyLocation
from tests.security.support import callback_auth

BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~65 KB on the wire


def _coded(body: bytes, coding: str) -> Response:
    return Response(body, 200, {"Content-Encoding": coding, "Content-Type": "application/json"})


async def test_gzip_bomb_is_refused_without_inflating_it(
    httpserver: HTTPServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/auth").respond_with_response(_coded(BOMB, "gzip"))
    auth = callback_auth(httpserver, client)
    tracemalloc.start()
    try:
        with pytest.raises(AuthFailed), caplog.at_level(logging.WARNING):
            await auth.authenticate("jane", "pw", LoginContext())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * 1024 * 1024, peak  # before the fix: ~148 MB (the 64 MiB inflated)
    assert f"body larger than {MAX_BODY} bytes" in caplog.text


async def test_callback_is_asked_for_identity_and_small_compressed_replies_still_work(
    httpserver: HTTPServer, client: httpx.AsyncClient
) -> None:
    seen: list[str] = []
    body = json.dumps({"provider": "none"}).encode()

    def reply(request: Request) -> Response:
        seen.append(request.headers.get("Accept-Encoding", ""))
        return _coded(gzip.compress(body), "gzip")

    httpserver.expect_request("/auth").respond_with_handler(reply)
    principal = await callback_auth(httpserver, client).authenticate("jane", "pw", LoginContext())
    assert principal.location == EmptyLocation()
    assert seen == ["identity"]
    httpserver.clear()
    httpserver.expect_request("/auth").respond_with_response(_coded(zlib.compress(body), "deflate"))
    principal = await callback_auth(httpserver, client).authenticate("jane", "pw", LoginContext())
    assert principal.location == EmptyLocation()


@pytest.mark.parametrize(
    ("body", "coding", "logged"),
    [
        (b"\x1f\x8b garbage", "gzip", "corrupt compressed body"),
        (b"{}", "br", "unsupported Content-Encoding 'br'"),
    ],
)
async def test_unreadable_codings_are_malformed_bodies(
    httpserver: HTTPServer,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    coding: str,
    logged: str,
) -> None:
    httpserver.expect_request("/auth").respond_with_response(_coded(body, coding))
    with pytest.raises(AuthFailed), caplog.at_level(logging.WARNING):
        await callback_auth(httpserver, client).authenticate("jane", "pw", LoginContext())
    assert logged in caplog.text


async def test_untrusted_certificate_is_an_outage_that_says_why(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """TLS is verified (the callback never sees the credentials), and the log says it was the
    certificate (before: only ``ConnectError``, the same as a refused connection)."""
    authority = trustme.CA()  # not in the client's trust store
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(context)
    server = HTTPServer(host="localhost", port=0, ssl_context=context)
    server.expect_request("/auth").respond_with_json({"provider": "none"})
    server.start()
    try:
        url = server.url_for("/auth").replace("https://", "https://user:hunter2@")
        auth = HttpCallbackAuthenticator(url, client, MailboxResolver(), timeout=10)
        with pytest.raises(AuthUnavailable), caplog.at_level(logging.WARNING):
            await auth.authenticate("jane", "pw", LoginContext())
        assert server.log == []
    finally:
        server.stop()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert "hunter2" not in caplog.text
