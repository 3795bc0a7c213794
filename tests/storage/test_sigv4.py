"""The lean GET path's SigV4 signature is botocore's, header for header (offline).

SeaweedFS checks every signature in the S3 tests; this pins the exact output against
botocore's ``S3SigV4Auth`` for ranged, conditional, token-carrying and odd-key requests.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from pop3srv.storage import sigv4

NOW = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def botocore_headers(
    url: str,
    headers: dict[str, str],
    token: str | None,
    region: str,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest("GET", url, headers=dict(headers))
    credentials = Credentials("AKIDEXAMPLE", SECRET, token)
    botocore.auth.S3SigV4Auth(credentials, "s3", region).add_auth(request)
    return {name.lower(): str(value) for name, value in request.headers.items()}


@pytest.mark.parametrize(
    ("url", "headers", "token", "region"),
    [
        ("http://127.0.0.1:8333/bucket/inbox/0001abc", {}, None, "us-east-1"),
        (
            "https://mail.s3.eu-west-1.amazonaws.com/inbox/a",
            {"range": "bytes=0-65535"},
            None,
            "eu-west-1",
        ),
        (
            "https://s3.eu-central-1.amazonaws.com/my.bucket/inbox/x",
            {"range": "bytes=65536-196607", "if-match": '"0123abcd"'},
            "FwoGZXIvYXdzEXAMPLE//token+with/odd=chars",
            "eu-central-1",
        ),
        (
            "https://s3.eu-west-2.amazonaws.com/b/inbox/k",
            {},
            "FwoGZXIvYXdzEXAMPLE+tok",
            "eu-west-2",
        ),
        (
            "http://localhost:9000/b/" + urllib.parse.quote("in box/ü+key=1&x", safe="/~"),
            {},
            None,
            "us-east-1",
        ),
    ],
)
def test_signature_matches_botocore(
    url: str,
    headers: dict[str, str],
    token: str | None,
    region: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = botocore_headers(url, headers, token, region, monkeypatch)
    parts = urllib.parse.urlsplit(url)
    signed = sigv4.SigningKeys(region, clock=NOW.timestamp).sign(
        "GET",
        parts.netloc,
        parts.path,
        headers,
        access_key="AKIDEXAMPLE",
        secret_key=SECRET,
        token=token,
    )
    ours = dict(signed)
    assert ours.pop("host") == parts.netloc
    assert ours == expected
    assert SECRET not in repr(signed)


def test_signing_keys_sign_as_botocore_and_follow_day_and_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``SigningKeys`` (what the GET path uses: key, scope and time kept) gives botocore's
    headers; a new day or a refreshed secret derives a new key."""
    url = "https://s3.eu-central-1.amazonaws.com/my.bucket/inbox/x"
    headers = {"range": "bytes=0-65535"}
    clock = [NOW.timestamp()]
    keys = sigv4.SigningKeys("eu-central-1", clock=lambda: clock[0])

    def ours(secret: str) -> dict[str, str]:
        signed = keys.sign(
            "GET",
            "s3.eu-central-1.amazonaws.com",
            "/my.bucket/inbox/x",
            headers,
            access_key="AKIDEXAMPLE",
            secret_key=secret,
            token="tok",
        )
        return {k: v for k, v in signed if k != "host"}

    assert ours(SECRET) == botocore_headers(url, headers, "tok", "eu-central-1", monkeypatch)
    first = ours(SECRET)["authorization"]
    assert ours(SECRET)["authorization"] == first  # same second, same key: same signature
    assert ours(SECRET + "x")["authorization"] != first  # refreshed secret
    clock[0] += 86400  # the next day
    next_day = NOW + timedelta(days=1)
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda: next_day.replace(tzinfo=None)
    )
    request = AWSRequest("GET", url, headers=dict(headers))
    botocore.auth.S3SigV4Auth(
        Credentials("AKIDEXAMPLE", SECRET, "tok"), "s3", "eu-central-1"
    ).add_auth(request)
    assert ours(SECRET)["authorization"] == request.headers["Authorization"]
    assert "20261201" in ours(SECRET)["x-amz-date"]


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLE//token"])
def test_a_listing_request_with_a_query_is_signed_as_botocore_does(
    token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = {"list-type": "2", "prefix": "in box/", "delimiter": "/", "encoding-type": "url"}
    query = sigv4.canonical_query(params)
    url = f"http://127.0.0.1:8333/bucket?{query}"
    expected = botocore_headers(url, {}, token, "us-east-1", monkeypatch)
    signed = sigv4.SigningKeys("us-east-1", clock=NOW.timestamp).sign(
        "GET",
        "127.0.0.1:8333",
        "/bucket",
        {},
        access_key="AKIDEXAMPLE",
        secret_key=SECRET,
        token=token,
        query=query,
    )
    ours = dict(signed)
    assert ours.pop("host") == "127.0.0.1:8333"
    assert ours == expected
