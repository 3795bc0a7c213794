"""Logins end to end over real sockets with poplib: every case of aws-ses-pop3-server's own
end-to-end suite (static; JWT none, demo, s3, unknown provider, bad signature, malformed;
HTTP callback accepted and unauthorized) plus app passwords and long passwords."""

from __future__ import annotations

import json
import poplib
import warnings
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
import trio
from jwt.warnings import InsecureKeyLengthWarning
from pytest_httpserver import HTTPServer

from pop3srv.auth.tokens import app_password, app_password_key
from tests.conftest import PASSWORD, USER, RunningServer, start_server
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

SECRET = "k2ya2iTNRdlsixVuTi00"  # the original README's example


def _jwt(claims: dict[str, object], key: str = SECRET, **kw: object) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, key, **kw)  # type: ignore[arg-type]


def _login(server: RunningServer, user: str, password: str) -> Callable[[], tuple[int, int]]:
    def run() -> tuple[int, int]:
        client = poplib.POP3("127.0.0.1", server.plain_port, timeout=30)
        try:
            client.user(user)
            client.pass_(password)
            return client.stat()
        finally:
            client.quit()

    return run


async def _stat(server: RunningServer, user: str, password: str) -> tuple[int, int]:
    return await trio.to_thread.run_sync(_login(server, user, password))


async def _refused(server: RunningServer, user: str, password: str) -> str:
    with pytest.raises(poplib.error_proto) as info:
        await _stat(server, user, password)
    return str(info.value)


async def test_static_login(server: RunningServer) -> None:
    assert await _stat(server, USER, PASSWORD) == (0, 0)
    assert "[AUTH]" in await _refused(server, USER, "wrong")


async def test_jwt_none_demo_and_refusals(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_server(nursery, tmp_path, POP3_JWT_SECRET=SECRET)
    assert await _stat(server, "jwt", _jwt({"provider": "none"})) == (0, 0)
    count, _octets = await _stat(server, "me@example.com", _jwt({"provider": "demo"}))
    assert count == 1
    for bad in (
        _jwt({"provider": "unknown"}),
        _jwt({"provider": "none"}, "another-secret-altogether"),
        "not-a-jwt",
        _jwt({"provider": "none"}, algorithm="HS512"),
    ):
        assert "[AUTH]" in await _refused(server, "jwt", bad)


async def test_jwt_s3_claims_read_the_bucket(
    nursery: trio.Nursery, tmp_path: Path, moto_s3: S3Server
) -> None:
    bucket = moto_s3.create_bucket("jwt")
    body = b"Subject: one\r\n\r\nbody\r\n"
    moto_s3.put(bucket, "inbox/one", body)
    server = await start_server(
        nursery, tmp_path, POP3_JWT_SECRET=SECRET, POP3_AWS_S3_ENDPOINT_URL=moto_s3.endpoint_url
    )
    token = _jwt(
        {
            "awsAccessKeyID": moto_s3.access_key_id,
            "awsSecretAccessKey": moto_s3.secret_access_key,
            "region": moto_s3.region,
            "bucket": bucket,
            "prefix": "inbox/",
        }
    )
    assert await _stat(server, "jwt", token) == (1, len(body))


async def test_http_callback_accepted_and_unauthorized(
    nursery: trio.Nursery, tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(
        "/auth", headers={"Authorization": "Basic amFuZTpyaWdodA=="}
    ).respond_with_json({"provider": "demo"})
    httpserver.expect_request("/auth").respond_with_data("no", status=401)
    server = await start_server(
        nursery, tmp_path, POP3_HTTP_BASIC_AUTH_URL=httpserver.url_for("/auth")
    )
    assert (await _stat(server, "jane", "right"))[0] == 1
    assert "[AUTH]" in await _refused(server, "jane", "wrong")


async def test_http_callback_outage_is_sys_temp(nursery: trio.Nursery, tmp_path: Path) -> None:
    server = await start_server(nursery, tmp_path, POP3_HTTP_BASIC_AUTH_URL="http://127.0.0.1:9/")
    assert "[SYS/TEMP]" in await _refused(server, "jane", "whatever")


async def test_app_password_for_a_configured_mailbox(nursery: trio.Nursery, tmp_path: Path) -> None:
    mailboxes = json.dumps({"work": {"folder": "work"}})
    server = await start_server(nursery, tmp_path, POP3_JWT_SECRET=SECRET, POP3_MAILBOXES=mailboxes)
    (server.mail_dir / "work").mkdir(parents=True)
    body = b"Subject: work\r\n\r\nx\r\n"
    (server.mail_dir / "work" / "m1").write_bytes(body)
    key = app_password_key(None, SECRET)
    assert key is not None
    password = app_password(key, "work", 1)
    assert len(password) <= 32
    assert await _stat(server, "work", password) == (1, len(body))
    assert "[AUTH]" in await _refused(server, "work", app_password(key, "work", 2))


async def test_a_16_kib_password_is_read_whole_and_refused(server: RunningServer) -> None:
    assert "[AUTH]" in await _refused(server, USER, "x" * 16000)
