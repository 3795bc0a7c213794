"""``check-config --probe [--json]`` against generated certificates (trustme), a real S3 server
(SeaweedFS, which checks signatures), and an HTTP login callback; exit codes 0/1/2."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import trustme
from botocore.exceptions import ClientError
from pytest_httpserver import HTTPServer

from pop3srv.config import main_check_config
from pop3srv.probe import _client_error
from tests.conftest import free_port
from tests.e2e.process import run_pop3srv
from tests.s3.servers import S3Server

pytest_plugins = ("tests.s3.plugin",)

NOW = datetime.datetime.now(datetime.UTC)


def check(tmp: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    """Runs ``check-config --probe --json``; (exit status, the JSON document)."""
    env = {"POP3_PASSWORD": "not-the-default", "POP3_STATE_DIR": str(tmp / "state")} | env
    rc = main_check_config(env, cwd=tmp, home=tmp, etc_dir=tmp / "etc", probe=True, as_json=True)
    return rc, json.loads(capsys.readouterr().out)


def probes(document: Any, check: str) -> list[dict[str, str]]:
    return [p for p in document["probes"] if p["check"] == check]


# --- certificates -----------------------------------------------------------------------------


def _write(tmp: Path, name: str, cert: trustme.LeafCert) -> dict[str, str]:
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    return {"POP3_TLS_CERT_PATH": str(cert_path), "POP3_TLS_KEY_PATH": str(key_path)}


def _leaf(
    not_before: datetime.datetime | None = None, not_after: datetime.datetime | None = None
) -> trustme.LeafCert:
    ca = trustme.CA()
    return ca.issue_cert("mail.example.com", not_before=not_before, not_after=not_after)


@pytest.mark.parametrize(
    ("case", "rc", "level", "needle"),
    [
        ("good", 0, "ok", "valid until"),
        ("swapped", 1, "error", "swapped"),
        ("mismatched", 1, "error", "does not match"),
        ("expired", 1, "error", "expired on"),
        ("expiring", 0, "warning", "valid until"),
        ("not-yet-valid", 1, "error", "not valid before"),
    ],
)
def test_certificate_probe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, rc: int, level: str, needle: str
) -> None:
    day = datetime.timedelta(days=1)
    if case == "expired":
        env = _write(tmp_path, case, _leaf(not_before=NOW - 30 * day, not_after=NOW - day))
    elif case == "expiring":
        env = _write(tmp_path, case, _leaf(not_before=NOW - day, not_after=NOW + 5 * day))
    elif case == "not-yet-valid":
        env = _write(tmp_path, case, _leaf(not_before=NOW + day, not_after=NOW + 30 * day))
    else:
        env = _write(tmp_path, case, _leaf())
    if case == "swapped":
        env = {
            "POP3_TLS_CERT_PATH": env["POP3_TLS_KEY_PATH"],
            "POP3_TLS_KEY_PATH": env["POP3_TLS_CERT_PATH"],
        }
    if case == "mismatched":
        env["POP3_TLS_KEY_PATH"] = _write(tmp_path, "other", _leaf())["POP3_TLS_KEY_PATH"]
    status, document = check(tmp_path, env, capsys)
    [tls] = probes(document, "tls")
    assert (status, tls["level"]) == (rc, level), tls
    assert needle in tls["message"]


def test_inline_certificate_is_probed_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaf = _leaf()
    env = {
        "POP3_TLS_CERT": leaf.cert_chain_pems[0].bytes().decode(),
        "POP3_TLS_KEY": _leaf().private_key_pem.bytes().decode(),
    }
    status, document = check(tmp_path, env, capsys)
    assert status == 1 and "does not match" in probes(document, "tls")[0]["message"]
    assert "PRIVATE KEY" not in json.dumps(document)


def test_no_certificate_configured_is_not_probed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, document = check(tmp_path, {}, capsys)
    assert status == 0 and document["probes"] == []


# --- S3 ---------------------------------------------------------------------------------------


def test_s3_probe_good_missing_wrong_keys_and_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seaweedfs: S3Server
) -> None:
    bucket = seaweedfs.create_bucket("probe")
    seaweedfs.put(bucket, "inbox/m1", b"Subject: x\r\n\r\nbody\r\n")
    down = f"http://127.0.0.1:{free_port()}"
    mailboxes = {
        "shared": {"bucket": bucket, "prefix": "inbox/"},  # the server's keys
        "missing": {"bucket": "no-such-bucket-zz9", "region": seaweedfs.region},
        "wrong": {"bucket": bucket, "access-key-id": "AKWRONG", "secret-access-key": "wrong-zz9"},
        "down": {"bucket": bucket, "endpoint-url": down},
    }
    env = seaweedfs.env(bucket, "inbox/") | {"POP3_MAILBOXES": json.dumps(mailboxes)}
    status, document = check(tmp_path, env, capsys)
    found = {p["target"].split()[1]: p for p in probes(document, "s3")}
    assert status == 1
    assert found["(default)"]["level"] == found["shared"]["level"] == "ok", found
    assert "listed" in found["shared"]["message"]
    assert "NoSuchBucket" in found["missing"]["message"]
    assert "access denied" in found["wrong"]["message"]
    assert "unreachable" in found["down"]["message"] and down in found["down"]["target"]
    target = found["shared"]["target"]
    assert bucket in target and "'inbox/'" in target and seaweedfs.endpoint_url in target
    text = json.dumps(document)
    assert seaweedfs.secret_access_key not in text and "wrong-zz9" not in text
    assert document["credentials"]["shared"].startswith("aws-access-key-id (")
    assert document["credentials"]["wrong"] == "own keys (AKWRONG)"


def test_s3_probe_text_output_one_line_per_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seaweedfs: S3Server
) -> None:
    env = seaweedfs.env("no-such-bucket-zz8") | {"POP3_PASSWORD": "not-the-default"}
    rc = main_check_config(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc", probe=True)
    out, err = capsys.readouterr()
    assert rc == 1
    [line] = [line for line in err.splitlines() if line.startswith("probe error:")]
    assert "mailbox (default) (bucket no-such-bucket-zz8" in line and "NoSuchBucket" in line
    assert "# S3 keys of mailbox (default): aws-access-key-id (" in out


# --- HTTP login callback, JSON shape, exit 2 --------------------------------------------------


def test_http_callback_probe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/auth").respond_with_data("no", status=401)
    status, document = check(
        tmp_path, {"POP3_HTTP_BASIC_AUTH_URL": httpserver.url_for("/auth")}, capsys
    )
    [probe] = probes(document, "http-basic-auth-url")
    assert status == 0 and probe["level"] == "ok" and "401" in probe["message"]
    down = f"http://127.0.0.1:{free_port()}/auth"
    status, document = check(tmp_path, {"POP3_HTTP_BASIC_AUTH_URL": down}, capsys)
    [probe] = probes(document, "http-basic-auth-url")
    assert status == 1 and probe["level"] == "error" and "unreachable" in probe["message"]


def test_json_prints_lists_and_tables_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "POP3_JWT_ALGORITHMS": "HS256, HS512",
        "POP3_JWT_SECRET": "s" * 32,
        "POP3_USERS": '{"jane": {"password": "pw-zz9-secret"}}',
    }
    status, document = check(tmp_path, env, capsys)
    settings = document["settings"]
    assert status == 0 and document["valid"] is True
    assert settings["jwt-algorithms"] == {
        "value": ["HS256", "HS512"],
        "source": "env POP3_JWT_ALGORITHMS",
    }
    assert settings["users"]["value"] == {"jane": {"password": "***"}}
    assert settings["jwt-secret"]["value"] == "***" and settings["tls-port"]["value"] == 2995
    assert "pw-zz9-secret" not in json.dumps(document)


def test_invalid_configuration_exits_2_also_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, document = check(tmp_path, {"POP3_PLAIN_PORT": "70000"}, capsys)
    assert status == 2 and document["valid"] is False
    assert document["problems"] == [
        "plain-port: 70000 is not a port (0-65535) (from env POP3_PLAIN_PORT)"
    ]


@pytest.mark.parametrize(
    ("code", "status", "needle"),
    [
        ("PermanentRedirect", 301, "wrong region; the bucket is in eu-west-1"),
        ("AuthorizationHeaderMalformed", 400, "wrong region; the bucket is in eu-west-1"),
        ("InvalidAccessKeyId", 403, "access denied"),
        ("SlowDown", 503, "SlowDown: please slow down"),
    ],
)
def test_s3_error_lines(code: str, status: int, needle: str) -> None:
    """What AWS answers for a wrong region (no S3 server here checks regions: SeaweedFS and
    moto serve any), as botocore hands it over."""
    response: Any = {
        "Error": {"Code": code, "Message": "please slow down"},
        "ResponseMetadata": {
            "HTTPStatusCode": status,
            "HTTPHeaders": {"x-amz-bucket-region": "eu-west-1"},
        },
    }
    assert needle in _client_error(ClientError(response, "ListObjectsV2"))


def test_the_command_line_flags(tmp_path: Path) -> None:
    leaf = _leaf(
        not_before=NOW - 30 * datetime.timedelta(days=1), not_after=NOW - datetime.timedelta(days=1)
    )
    env = {**_write(tmp_path, "expired", leaf), "POP3_PASSWORD": "pw-zz9"}
    run = run_pop3srv(tmp_path, "check-config", "--probe", "--json", **env)
    assert run.returncode == 1, run.stderr
    assert probes(json.loads(run.stdout), "tls")[0]["level"] == "error"
    run = run_pop3srv(tmp_path, "check-config", **env)
    assert run.returncode == 0 and "tls-cert-path = " in run.stdout  # no probe: not loaded
    run = run_pop3srv(tmp_path, "check-config", "--json", **env, POP3_PLAIN_PORT="x")
    assert run.returncode == 2 and json.loads(run.stdout)["valid"] is False


def test_http_callback_probe_never_shows_the_url_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"https://probe:url-zz9-secret@127.0.0.1:{free_port()}/auth?key=query-zz9-secret"
    status, document = check(tmp_path, {"POP3_HTTP_BASIC_AUTH_URL": url}, capsys)
    assert status == 1 and probes(document, "http-basic-auth-url")[0]["level"] == "error"
    assert "zz9-secret" not in json.dumps(document)
