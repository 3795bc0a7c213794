"""``aws-kms-endpoint-url`` reaches every S3 location a login can resolve to: the default
mailbox, ``mailboxes`` entries (their own endpoint first) and the original's S3 claims."""

from __future__ import annotations

from pathlib import Path

from pop3srv.auth.claims import MailboxResolver
from pop3srv.config import MailboxEntry, load_settings
from pop3srv.runtime import default_location
from pop3srv.storage.base import S3Location

DEFAULT_KMS = "http://127.0.0.1:4566"
OWN_KMS = "https://vpce-0abc.kms.eu-west-1.vpce.amazonaws.com"


def _resolver() -> MailboxResolver:
    return MailboxResolver(
        mailboxes={
            "own": MailboxEntry("own", bucket="b", kms_endpoint_url=OWN_KMS),
            "shared": MailboxEntry("shared", bucket="b"),
        },
        mail_dir=Path("/mail"),
        default_region="eu-west-1",
        default_kms_endpoint=DEFAULT_KMS,
    )


def test_mailbox_entries_use_their_own_kms_endpoint_or_the_default() -> None:
    own = _resolver().named("own")
    shared = _resolver().named("shared")
    assert isinstance(own, S3Location) and own.kms_endpoint_url == OWN_KMS
    assert isinstance(shared, S3Location) and shared.kms_endpoint_url == DEFAULT_KMS


def test_s3_claims_use_the_default_kms_endpoint() -> None:
    location = _resolver().from_claims({"bucket": "b", "region": "eu-west-1"})
    assert isinstance(location, S3Location) and location.kms_endpoint_url == DEFAULT_KMS


def test_the_default_mailbox_carries_the_configured_kms_endpoint(tmp_path: Path) -> None:
    env = {
        "POP3_AWS_S3_BUCKET": "mail",
        "POP3_AWS_S3_REGION": "eu-west-1",
        "POP3_AWS_KMS_ENDPOINT_URL": DEFAULT_KMS,
        "POP3_STATE_DIR": str(tmp_path / "state"),
        "POP3_MAIL_DIR": str(tmp_path / "mail"),
    }
    settings = load_settings(env, cwd=tmp_path, home=tmp_path, etc_dir=tmp_path / "etc")
    location = default_location(settings)
    assert isinstance(location, S3Location)
    assert location.kms_endpoint_url == DEFAULT_KMS
    assert location.region == "eu-west-1"
