"""A store failure line says what to do (ops-6): the hint for each error code an operator's
mistake produces, next to the code; none for codes that need no advice."""

from __future__ import annotations

import logging

import pytest

from pop3srv.failures import FailureLog, Who
from pop3srv.hints import store_hint
from pop3srv.logsetup import fields_of
from pop3srv.storage.base import S3Location, StoreDenied, StoreError, StoreUnavailable

LOCATION = S3Location("ses-mail", "inbox/", "eu-west-1", None, None)
WHO = Who("s1", "192.0.2.1:5000", "jane")


@pytest.mark.parametrize(
    ("code", "status", "names"),
    [
        ("NoSuchBucket", 404, "aws-s3-bucket"),
        ("PermanentRedirect", 301, "aws-s3-region"),
        ("AuthorizationHeaderMalformed", 400, "aws-s3-region"),
        ("InvalidAccessKeyId", 403, "aws-access-key-id"),
        ("SignatureDoesNotMatch", 403, "aws-secret-access-key"),
        ("ExpiredToken", 400, "aws-session-token"),
        ("AccessDenied", 403, "docs/iam.md"),
        ("NoCredentialsError", None, "aws-access-key-id"),
        ("EndpointConnectionError", None, "aws-s3-endpoint-url"),
        ("SlowDown", 503, "clients retry"),
        ("WhateverNew", 503, "clients retry"),
    ],
)
def test_each_operator_mistake_names_what_to_check(
    code: str, status: int | None, names: str, caplog: pytest.LogCaptureFixture
) -> None:
    error: StoreError = (StoreDenied if status and status < 500 else StoreUnavailable)("x")
    error.operation, error.code, error.status = "list_objects_v2", code, status
    caplog.set_level(logging.INFO)
    FailureLog().store_failed(error, "open", WHO, LOCATION)
    (record,) = [r for r in caplog.records if r.name == "pop3srv.failures"]
    fields = fields_of(record)
    assert fields["code"] == code
    assert names in str(fields["hint"])
    assert fields["hint"] == store_hint(code, status)


def test_no_hint_where_there_is_no_advice(caplog: pytest.LogCaptureFixture) -> None:
    assert store_hint("NoSuchKey", 404) is None
    assert store_hint(None, None) is None
    error = StoreDenied("x")
    error.operation, error.code, error.status = "get_object", "NoSuchKey", 404
    caplog.set_level(logging.INFO)
    FailureLog().store_failed(error, "retr", WHO, LOCATION)
    assert "hint" not in fields_of(caplog.records[-1])
