"""S3 keys fall back in one order: the mailbox's own, else the server's configured ones, else
the AWS default chain (None). Same for token claims that name only a bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from pop3srv.auth.claims import MailboxResolver
from pop3srv.auth.factory import mailbox_resolver, server_credentials
from pop3srv.config import MailboxEntry, load_settings
from pop3srv.storage.base import S3Credentials, S3Location

SERVER = S3Credentials("AKSERVER", "server-secret", "server-token")
OWN = MailboxEntry("own", bucket="b", access_key_id="AKOWN", secret_access_key="own-secret")
BARE = MailboxEntry("bare", bucket="b", region="eu-west-1")


def _resolver(default: S3Credentials | None) -> MailboxResolver:
    return MailboxResolver(
        {"own": OWN, "bare": BARE}, Path("/m"), "us-east-1", None, default_credentials=default
    )


@pytest.mark.parametrize(
    ("default", "mailbox", "expected"),
    [
        (SERVER, "own", S3Credentials("AKOWN", "own-secret")),
        (SERVER, "bare", SERVER),
        (None, "bare", None),
        (None, "own", S3Credentials("AKOWN", "own-secret")),
    ],
)
def test_mailbox_entries(
    default: S3Credentials | None, mailbox: str, expected: S3Credentials | None
) -> None:
    location = _resolver(default).named(mailbox)
    assert isinstance(location, S3Location) and location.credentials == expected


@pytest.mark.parametrize(
    ("default", "claims", "expected"),
    [
        (SERVER, {"bucket": "b"}, SERVER),
        (None, {"bucket": "b"}, None),
        (
            SERVER,
            {"bucket": "b", "awsAccessKeyID": "AKC", "awsSecretAccessKey": "c"},
            S3Credentials("AKC", "c"),
        ),
    ],
)
def test_claims_naming_only_a_bucket(
    default: S3Credentials | None, claims: dict[str, str], expected: S3Credentials | None
) -> None:
    location = _resolver(default).from_claims(claims)
    assert isinstance(location, S3Location) and location.credentials == expected


def test_the_resolver_gets_the_configured_keys(tmp_path: Path) -> None:
    env = {
        "POP3_AWS_ACCESS_KEY_ID": "AKSERVER",
        "POP3_AWS_SECRET_ACCESS_KEY": "server-secret",
        "POP3_AWS_S3_BUCKET": "b",
        "POP3_AWS_S3_REGION": "eu-west-1",
        "POP3_MAILBOXES": '{"bare": {"bucket": "other"}}',
    }
    settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    assert server_credentials(settings) == S3Credentials("AKSERVER", "server-secret")
    location = mailbox_resolver(settings).named("bare")
    assert isinstance(location, S3Location)
    assert location.credentials == S3Credentials("AKSERVER", "server-secret")
    assert location.region == "eu-west-1"
    none = load_settings({}, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    assert server_credentials(none) is None
