"""What the operator finds in the log of a real ``pop3srv serve`` process when a store operation
or a login fails: one line per failure with its fields, repeats counted, and never a password,
token, key or message body. S3 causes are real ones, on SeaweedFS."""

from __future__ import annotations

import base64
import json
import poplib
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pop3srv.auth.tokens import app_password, app_password_key, mint_jwt
from tests.conftest import PASSWORD, USER
from tests.e2e.process import ServerProcess, spawn_server
from tests.s3.servers import READONLY_ACCESS_KEY_ID, READONLY_SECRET_ACCESS_KEY, S3Server

pytest_plugins = ("tests.s3.plugin",)

BODY = b"Subject: private\r\n\r\nthe-secret-body-text-0451\r\n"
JWT_SECRET = "jwt-secret-for-the-failure-log-tests-0001-" + "x" * 24
Line = dict[str, Any]


def json_lines(stderr: str) -> list[Line]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def lines_with(lines: list[Line], message: str) -> list[Line]:
    return [line for line in lines if line["message"].startswith(message)]


def pop3(server: ServerProcess) -> poplib.POP3:
    return poplib.POP3("127.0.0.1", server.plain, timeout=60)


def refused(call: Callable[..., object], *args: object) -> str:
    with pytest.raises(poplib.error_proto) as info:
        call(*args)
    return str(info.value)


def assert_no_secrets(stderr: str, *secrets: str) -> None:
    for secret in (PASSWORD, "the-secret-body-text-0451", *secrets):
        assert secret not in stderr


def login_fails(server: ServerProcess, user: str = USER, password: str = PASSWORD) -> str:
    client = pop3(server)
    client.user(user)
    reply = refused(client.pass_, password)
    client.quit()
    return reply


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def s3_env(s3: S3Server, bucket: str, **changes: str) -> dict[str, str]:
    env = {**s3.env(bucket, "inbox/"), "POP3_LOG_FORMAT": "json", **changes}
    return env


@pytest.mark.parametrize(
    ("cause", "changes", "operation", "code", "status", "error"),
    [
        ("bucket typo", {"POP3_AWS_S3_BUCKET": "no-such-bucket-i12"}, "list_objects_v2",
         "NoSuchBucket", 404, "StoreDenied"),
        ("wrong secret key", {"POP3_AWS_SECRET_ACCESS_KEY": "wrong-secret-key-0001"},
         "list_objects_v2", "SignatureDoesNotMatch", 403, "StoreDenied"),
        ("unknown access key", {"POP3_AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000001"},
         "list_objects_v2", "InvalidAccessKeyId", 403, "StoreDenied"),
    ],
)  # fmt: skip
def test_a_store_failure_at_login_is_one_warning_with_its_s3_details(
    tmp_path: Path,
    seaweedfs: S3Server,
    cause: str,
    changes: dict[str, str],
    operation: str,
    code: str,
    status: int,
    error: str,
) -> None:
    bucket = seaweedfs.create_bucket()
    seaweedfs.put(bucket, "inbox/m1", BODY)
    server = spawn_server(tmp_path, **s3_env(seaweedfs, bucket, **changes))
    reply = login_fails(server)
    stderr = server.stop()
    assert "[SYS/PERM]" in reply
    (line,) = lines_with(json_lines(stderr), "store failure:")
    assert line["level"] == "WARNING"
    assert line["session"].startswith("s")
    assert line["peer"].startswith("127.0.0.1:")
    assert line["user"] == USER
    assert line["bucket"] == changes.get("POP3_AWS_S3_BUCKET", bucket)
    assert line["prefix"] == "inbox/"
    assert line["endpoint"] == seaweedfs.endpoint_url
    assert (line["action"], line["operation"], line["code"], line["status"]) == (
        "open",
        operation,
        code,
        status,
    )
    assert line["error"] == error
    assert_no_secrets(stderr, seaweedfs.secret_access_key, "wrong-secret-key-0001")


def test_an_endpoint_that_is_down_is_logged_as_unavailable(
    tmp_path: Path, seaweedfs: S3Server
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    server = spawn_server(tmp_path, **s3_env(seaweedfs, "mail", POP3_AWS_S3_ENDPOINT_URL=down))
    reply = login_fails(server)
    stderr = server.stop()
    assert "[SYS/TEMP]" in reply
    (line,) = lines_with(json_lines(stderr), "store failure:")
    assert line["error"] == "StoreUnavailable"
    assert line["endpoint"] == down
    assert line["operation"] == "list_objects_v2"
    assert line["code"] == "EndpointConnectionError"
    assert "status" not in line
    assert_no_secrets(stderr, seaweedfs.secret_access_key)


def test_a_policy_without_delete_is_logged_at_quit_and_nothing_is_lost(
    tmp_path: Path, seaweedfs: S3Server
) -> None:
    bucket = seaweedfs.create_bucket()
    seaweedfs.put(bucket, "inbox/m1", BODY)
    env = s3_env(
        seaweedfs,
        bucket,
        POP3_AWS_ACCESS_KEY_ID=READONLY_ACCESS_KEY_ID,
        POP3_AWS_SECRET_ACCESS_KEY=READONLY_SECRET_ACCESS_KEY,
    )
    server = spawn_server(tmp_path, **env)
    client = pop3(server)
    client.user(USER)
    client.pass_(PASSWORD)
    assert client.retr(1)[1][-1] == b"the-secret-body-text-0451"
    client.dele(1)
    reply = refused(client.quit)
    stderr = server.stop()
    assert "[SYS/TEMP]" in reply
    assert seaweedfs.keys(bucket, "inbox/") == ["inbox/m1"]
    (line,) = lines_with(json_lines(stderr), "store failure")
    assert line["level"] == "WARNING"
    assert line["action"] == "delete"
    assert line["user"] == USER
    assert line["bucket"] == bucket
    # SeaweedFS, like AWS, refuses key by key inside a 200 answer
    assert "1 of 1 messages not deleted" in line["message"]
    assert (line["operation"], line["code"]) == ("delete_objects", "AccessDenied")
    assert_no_secrets(stderr, READONLY_SECRET_ACCESS_KEY)


def test_identical_store_failures_are_counted_into_one_line(
    tmp_path: Path, seaweedfs: S3Server
) -> None:
    server = spawn_server(
        tmp_path, **s3_env(seaweedfs, "mail", POP3_AWS_S3_BUCKET="no-such-bucket-i12")
    )
    for _ in range(4):
        login_fails(server)
    stderr = server.stop()
    lines = json_lines(stderr)
    assert len(lines_with(lines, "store failure:")) == 1
    (summary,) = lines_with(lines, "store failure repeated")
    assert summary["repeats"] == 3
    assert summary["code"] == "NoSuchBucket"
    assert summary["bucket"] == "no-such-bucket-i12"


def _login_config(tmp_path: Path) -> None:
    (tmp_path / "mail" / "team").mkdir(parents=True)
    (tmp_path / "config.yaml").write_text(
        "auth-providers: [static, jwt, app-password]\n"
        f"jwt-secret: {JWT_SECRET}\n"
        "mailboxes:\n"
        "  team: {folder: team, app-password-version: 2}\n"
        "users:\n"
        "  bob: {password: 'bobs password 0001', mailbox: team}\n"
    )


def test_each_failed_login_is_one_info_line_with_its_reason(tmp_path: Path) -> None:
    _login_config(tmp_path)
    key = app_password_key(None, JWT_SECRET)
    assert key is not None
    revoked = app_password(key, "team", 1)
    expired = mint_jwt({"mailbox": "team"}, secret=JWT_SECRET, ttl=-3600).token
    hs512 = mint_jwt({"mailbox": "team"}, secret=JWT_SECRET, ttl=600, algorithm="HS512").token
    forged = mint_jwt({"mailbox": "team"}, secret="another-secret-" + "y" * 50, ttl=600)
    attempts = [
        ("nobody", "whatever password 1", "unknown-user"),
        ("bob", "wrong password 0001", "bad-password"),
        ("jwt", expired, "expired"),
        ("jwt", hs512, "bad-algorithm"),
        ("jwt", forged.token, "bad-signature"),
        ("team", revoked, "revoked"),
    ]
    server = spawn_server(tmp_path, POP3_LOG_FORMAT="json", POP3_LOGIN_PENALTY_START="0.01")
    for user, password, _reason in attempts:
        assert "[AUTH]" in login_fails(server, user, password)
    stderr = server.stop()
    failed = lines_with(json_lines(stderr), "login failed")
    assert [(f["user"], f["reason"]) for f in failed] == [
        (user if not user.startswith("eyJ") else "<a JWT>", reason)
        for user, _password, reason in attempts
    ]
    for line in failed:
        assert line["level"] == "INFO"
        assert line["method"] == "user"
        assert line["peer"].startswith("127.0.0.1:")
    assert_no_secrets(
        stderr, JWT_SECRET, "bobs password 0001", "wrong password 0001", expired, hs512, revoked
    )
    assert forged.token not in stderr


def test_auth_plain_as_another_user_is_logged_and_counted(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, POP3_LOG_FORMAT="json", POP3_MAX_AUTH_FAILURES="2")
    as_bob = base64.b64encode(f"bob\0{USER}\0{PASSWORD}".encode()).decode()
    with socket.create_connection(("127.0.0.1", server.plain), timeout=60) as sock:
        replies = sock.makefile("rb")
        assert replies.readline().startswith(b"+OK")
        for _attempt in range(2):
            sock.sendall(f"AUTH PLAIN {as_bob}\r\n".encode())
            assert replies.readline() == b"-ERR [AUTH] authorization identity not permitted\r\n"
        assert replies.readline() == b""  # the second failure closed it (max-auth-failures 2)
    stderr = server.stop()
    failed = lines_with(json_lines(stderr), "login failed")
    assert [(f["user"], f["method"], f["reason"]) for f in failed] == [
        (USER, "plain", "authzid-not-permitted")
    ] * 2
    assert_no_secrets(stderr, PASSWORD)


def test_an_address_that_starts_being_delayed_is_logged_once(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, POP3_LOG_FORMAT="json")
    for _ in range(4):
        login_fails(server, USER, "not the password")
    stderr = server.stop()
    lines = json_lines(stderr)
    (delayed,) = lines_with(lines, "repeated login failures")
    assert delayed["level"] == "WARNING"
    assert delayed["address"] == "127.0.0.1"
    assert delayed["delay"] > 0
    assert len(lines_with(lines, "login failed")) == 4


def test_text_format_carries_the_same_fields(tmp_path: Path) -> None:
    server = spawn_server(tmp_path)
    login_fails(server, 'mal"lory=forged', "not the password")
    stderr = server.stop()
    (line,) = [line for line in stderr.splitlines() if "login failed" in line]
    assert " INFO pop3srv.failures: login failed session=s" in line
    assert 'user="mal\\"lory=forged"' in line  # quoted: cannot forge a field
    assert line.endswith("method=user reason=unknown-user")


def test_json_lines_are_one_object_each(tmp_path: Path) -> None:
    server = spawn_server(tmp_path, POP3_LOG_FORMAT="json")
    time.sleep(0.2)
    stderr = server.stop()
    lines = stderr.splitlines()
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(entry)
