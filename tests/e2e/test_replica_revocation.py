"""Two replicas (two ``pop3srv serve`` processes) on one SeaweedFS bucket with ``lock: s3``: a
token minted on one works on the other; revoked on one, its live session on the other ends and
new logins there get ``-ERR [AUTH]`` within seconds (the registry is one object in the bucket,
re-read every few seconds). The same for an app-password version bump."""

from __future__ import annotations

import json
import poplib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin.conftest import ADMIN_TOKEN, BEARER, admin_env
from tests.e2e.process import ServerProcess, spawn_server
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)


def _replica(tmp: Path, env: dict[str, str]) -> tuple[ServerProcess, str]:
    tmp.mkdir()
    server = spawn_server(tmp, **env)
    host, port = json.loads((tmp / "ports.json").read_text())["admin"][0]
    return server, f"http://{host}:{port}"


def _login(port: int, user: str, password: str) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", port, timeout=10)
    client.user(user)
    client.pass_(password)
    return client


def _api(base: str, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, base + path, headers=BEARER, timeout=10, **kw)
    assert response.status_code == 200, response.text
    return response.json()


def _wait_refused(port: int, user: str, password: str, within: float = 15) -> str:
    """The ``-ERR [AUTH]`` refusal, once it comes (a lock still held answers ``[IN-USE]``)."""
    deadline = time.monotonic() + within
    last = "accepted"
    while True:
        try:
            _login(port, user, password).quit()
        except poplib.error_proto as exc:
            last = str(exc)
            if "[AUTH]" in last:
                return last
        assert time.monotonic() < deadline, f"a revoked password still works: {last}"
        time.sleep(0.3)


def test_revocation_reaches_the_other_replica(tmp_path: Path, seaweedfs: S3Server) -> None:
    bucket = seaweedfs.create_bucket("revoke")
    seaweedfs.put(bucket, "inbox/m1", b"Subject: 1\r\n\r\nx\r\n")
    mailboxes = {
        "work": {
            "bucket": bucket,
            "prefix": "inbox/",
            "aws-access-key-id": seaweedfs.access_key_id,
            "aws-secret-access-key": seaweedfs.secret_access_key,
        }
    }
    env = {
        **admin_env(tmp_path),
        **seaweedfs.env(bucket, "other/"),
        "POP3_MAILBOXES": json.dumps(mailboxes),
        "POP3_ADMIN_PORT": "8080",
        "POP3_ADMIN_TOKEN": ADMIN_TOKEN,
        "POP3_LOCK": "s3",
        "POP3_LOCK_LEASE": "5",
    }
    (first, first_api), (second, second_api) = (
        _replica(tmp_path / "a", env),
        _replica(tmp_path / "b", env),
    )
    try:
        minted = _api(first_api, "POST", "/api/tokens", json={"mailbox": "work", "label": "x"})
        client = _login(second.plain, "jane", minted["token"])
        assert client.stat()[0] == 1
        deadline = time.monotonic() + 10  # the other replica re-reads the registry
        while [r["jti"] for r in _api(second_api, "GET", "/api/tokens")] != [minted["jti"]]:
            assert time.monotonic() < deadline, "the registry never reached the other replica"
            time.sleep(0.2)

        _api(first_api, "DELETE", f"/api/tokens/{minted['jti']}")
        deadline = time.monotonic() + 15
        while [s for s in _api(second_api, "GET", "/api/sessions") if s["user"] == "jane"]:
            assert time.monotonic() < deadline, "the session on the other replica lives on"
            time.sleep(0.2)
        with pytest.raises((poplib.error_proto, OSError)):
            client.noop()
            client.noop()
        client.close()
        assert "[AUTH]" in _wait_refused(second.plain, "jane", minted["token"])
        assert "[AUTH]" in _wait_refused(first.plain, "jane", minted["token"], within=1)

        old = _api(first_api, "POST", "/api/app-passwords", json={"mailbox": "work"})["password"]
        _login(second.plain, "work", old).quit()
        bumped = _api(second_api, "POST", "/api/app-passwords/work/revoke")
        assert bumped["version"] == 2
        assert "[AUTH]" in _wait_refused(first.plain, "work", old)
        keys = seaweedfs.keys(bucket)
        assert ".pop3srv-locks/tokens.json" in keys
    finally:
        for replica in (first, second):
            if replica.alive():
                replica.stop()
