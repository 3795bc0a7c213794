"""The failure log: fields of each line, repeats counted per window, nothing secret."""

from __future__ import annotations

import logging
import ssl
from dataclasses import replace
from pathlib import Path

import pytest

from pop3srv.failures import FailureLog, Who, describe_location, login_line, safe_user
from pop3srv.logsetup import fields_of
from pop3srv.storage.base import (
    FolderLocation,
    MessageGone,
    S3Credentials,
    S3Location,
    StoreDenied,
    StoreError,
    StoreUnavailable,
)

SECRET = "wJalrXUtnFEMI-secret-access-key"
LOCATION = S3Location(
    "ses-mail", "inbox/", "eu-west-1", "http://s3.test", S3Credentials("AKIAEXAMPLE", SECRET)
)
WHO = Who("s7", "192.0.2.1:5000", "jane")


def denied(code: str = "AccessDenied") -> StoreError:
    error = StoreDenied(f"S3 list_objects_v2 failed: {code} (HTTP 403)")
    error.operation, error.code, error.status = "list_objects_v2", code, 403
    return error


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "pop3srv.failures"]


def test_a_store_failure_is_one_warning_with_every_field(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    FailureLog().store_failed(denied(), "open", WHO, LOCATION)
    (record,) = records(caplog)
    assert record.levelno == logging.WARNING
    assert dict(fields_of(record)) == {
        "session": "s7",
        "peer": "192.0.2.1:5000",
        "user": "jane",
        "action": "open",
        "error": "StoreDenied",
        "bucket": "ses-mail",
        "prefix": "inbox/",
        "region": "eu-west-1",
        "endpoint": "http://s3.test",
        "operation": "list_objects_v2",
        "code": "AccessDenied",
        "status": 403,
        "hint": "the IAM or bucket policy refuses it: see docs/iam.md for the permissions needed",
    }
    assert SECRET not in caplog.text
    assert "AKIAEXAMPLE" not in caplog.text


def test_repeats_in_a_window_are_counted_into_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    failures = FailureLog(window=60, clock=clock)
    for session in range(5):
        failures.store_failed(denied(), "open", Who(f"s{session}", "p"), LOCATION)
        clock.now += 1
    failures.store_failed(denied("NoSuchBucket"), "open", WHO, LOCATION)  # another failure
    assert [r.getMessage() for r in records(caplog)] == [
        "store failure: S3 list_objects_v2 failed: AccessDenied (HTTP 403)",
        "store failure: S3 list_objects_v2 failed: NoSuchBucket (HTTP 403)",
    ]
    clock.now += 60
    failures.flush()
    summary = records(caplog)[-1]
    assert summary.getMessage() == "store failure repeated 4 more times in 65 s"
    assert fields_of(summary)["repeats"] == 4
    assert fields_of(summary)["code"] == "AccessDenied"
    failures.store_failed(denied(), "open", WHO, LOCATION)  # a new window: logged again
    assert records(caplog)[-1].getMessage().startswith("store failure: S3")


def test_flush_all_reports_what_is_pending_and_a_lone_failure_adds_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    failures = FailureLog(window=60, clock=Clock())
    failures.store_failed(denied(), "open", WHO, LOCATION)
    failures.store_failed(StoreUnavailable("x"), "list", WHO, LOCATION)
    failures.store_failed(StoreUnavailable("x"), "list", WHO, LOCATION)
    failures.flush_all()
    messages = [r.getMessage() for r in records(caplog)]
    assert messages[-1] == "store failure repeated 1 more times in 0 s"
    assert len(messages) == 3


def test_the_number_of_distinct_failures_remembered_is_bounded() -> None:
    failures = FailureLog(max_keys=3, clock=Clock())
    for index in range(10):
        failures.store_failed(denied(f"Code{index}"), "open", WHO, LOCATION)
    assert len(failures._seen) == 3


def test_a_message_gone_is_info_not_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    FailureLog().store_failed(MessageGone("gone"), "retrieve", WHO, LOCATION)
    assert records(caplog)[0].levelno == logging.INFO


def test_login_failures_and_delays(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    failures = FailureLog()
    failures.login_failed(WHO, "jane", "plain", "bad-password")
    failures.address_delayed("192.0.2.1", 1.0)
    login, delayed = records(caplog)
    assert (login.levelno, dict(fields_of(login))) == (
        logging.INFO,
        {
            "session": "s7",
            "peer": "192.0.2.1:5000",
            "user": "jane",
            "method": "plain",
            "reason": "bad-password",
        },
    )
    assert delayed.levelno == logging.WARNING
    assert dict(fields_of(delayed)) == {"address": "192.0.2.1", "delay": 1.0}


@pytest.mark.parametrize(
    ("user", "shown"),
    [
        ("jane", "jane"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "<a JWT>"),
        ("x" * 150, "x" * 100 + "..."),
        (None, None),
    ],
)
def test_user_names_fit_for_a_log(user: str | None, shown: str | None) -> None:
    assert safe_user(user) == shown


def test_login_lines_never_write_a_token_pasted_as_the_user_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    FailureLog().login_failed(WHO, token, "user", "bad-password")
    login_line(logging.getLogger("pop3srv.login"), "login", WHO, token, "user", provider="jwt")
    failed, succeeded = caplog.records
    assert fields_of(failed)["user"] == fields_of(succeeded)["user"] == "<a JWT>"


def test_locations_are_described_without_credentials() -> None:
    assert describe_location(FolderLocation(Path("/var/mail"), "jane")) == {
        "folder": "/var/mail/jane"
    }
    assert "credentials" not in str(describe_location(LOCATION))
    assert SECRET not in str(describe_location(LOCATION))
    with_password = replace(LOCATION, endpoint_url="https://minio:pw-in-url@s3.test:9000")
    assert describe_location(with_password)["endpoint"] == "https://minio:***@s3.test:9000"


def test_refusals_from_one_ipv6_network_share_a_window(caplog: pytest.LogCaptureFixture) -> None:
    failures = FailureLog(ipv6_prefix_length=64)
    with caplog.at_level(logging.INFO, logger="pop3srv.failures"):
        for host in ("2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8:0:1::1"):
            failures.connection_refused(f"[{host}]:1", "not a trusted proxy")
        failures.flush_all()
    lines = [(r.getMessage(), fields_of(r).get("peer")) for r in caplog.records]
    assert lines == [
        ("connection refused", "[2001:db8::1]:1"),  # the exact peer
        ("connection refused", "[2001:db8:0:1::1]:1"),  # another /64
        ("connection refused repeated 2 more times in 0 s", None),
    ]
    assert fields_of(caplog.records[-1])["address"] == "2001:db8::/64"


def test_repeated_refusals_are_reported_at_info_as_the_refusal_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused connection is routine (a scanner, a proxy misconfigured): its repeats are no
    WARNING either."""
    caplog.set_level(logging.INFO)
    failures = FailureLog(window=60, clock=Clock())
    for _ in range(3):
        failures.connection_refused("192.0.2.9:1", "not a trusted proxy")
    failures.flush_all()
    levels = [(r.getMessage(), r.levelno) for r in records(caplog)]
    assert levels == [
        ("connection refused", logging.INFO),
        ("connection refused repeated 2 more times in 0 s", logging.INFO),
    ]


def test_repeated_tls_failures_keep_the_level_of_the_first_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each window's "repeated" line has its first line's level: a failed handshake is INFO
    (a client refusing a self-signed certificate), so are its repeats (they were WARNING)."""
    caplog.set_level(logging.INFO)
    failures = FailureLog(window=60, clock=Clock())
    error = ssl.SSLError(1, "alert unknown ca")
    error.reason = "TLSV1_ALERT_UNKNOWN_CA"
    for _ in range(3):
        failures.tls_failed("192.0.2.9:1", "tls", error)
    failures.flush_all()
    levels = [(r.getMessage(), r.levelno) for r in records(caplog)]
    assert levels == [
        ("TLS handshake failed", logging.INFO),
        ("TLS handshake failed repeated 2 more times in 0 s", logging.INFO),
    ]
