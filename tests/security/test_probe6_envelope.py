"""Probe 6: SES-encrypted objects whose envelope metadata was tampered with by whoever can
write into a mailbox's prefix. Each must be a clean ``MessageUndecryptable`` (``-ERR
[SYS/PERM]``), never an uncaught exception (a session torn down, a traceback in the log) nor a
retryable ``[SYS/TEMP]`` that makes the client fetch it again for ever.

Found: ``x-amz-unencrypted-content-length`` of 5,000 ASCII digits (or a digit ``int`` does not
read, such as ``²``) raised ``ValueError`` out of the envelope parser; a wrapped key longer than
KMS takes (6,144 octets) failed botocore's parameter check and was reported as "KMS endpoint
unreachable?" with ``[SYS/TEMP]``."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from pop3srv.storage.base import MessageUndecryptable
from pop3srv.storage.envelope import EnvelopeError, parse_envelope
from pop3srv.storage.s3 import S3Store
from tests.s3.servers import S3Server
from tests.s3.ses import SesWriter
from tests.security.support import encrypted_mailbox

pytest_plugins = ("tests.s3.plugin",)

PREFIX = "inbox/"
MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"
LENGTH = "x-amz-unencrypted-content-length"

TAMPERED: dict[str, dict[str, str | None]] = {
    "length-5000-digits": {LENGTH: "9" * 5000},
    "length-huge": {LENGTH: "9" * 40},
    "length-wrong": {LENGTH: "9" * 18},
    "length-superscript": {LENGTH: "\u00b2"},
    "length-negative": {LENGTH: "-1"},
    "key-too-long": {"x-amz-key-v2": base64.b64encode(b"k" * 7000).decode()},
    "key-one-octet": {"x-amz-key-v2": base64.b64encode(b"k").decode()},
    "iv-wrong-size": {"x-amz-iv": base64.b64encode(b"i" * 16).decode()},
    "tag-len-96": {"x-amz-tag-len": "96"},
    "matdesc-list": {"x-amz-matdesc": "[]"},
    "matdesc-nested": {"x-amz-matdesc": '{"a": {"b": "c"}}'},
    "matdesc-deep": {"x-amz-matdesc": "[" * 1500 + "]" * 1500},
    "cek-alg-unknown": {"x-amz-cek-alg": "AES/CTR/NoPadding"},
    "wrap-alg-missing": {"x-amz-wrap-alg": None},
    "context-binding-missing": {"x-amz-wrap-alg": "kms+context"},
}

WELL_FORMED = ("length-wrong", "key-one-octet")


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_parse_refuses_with_envelope_error(case: str) -> None:
    """The pure parser: every tampered field is an ``EnvelopeError`` naming the field."""
    metadata = {
        "x-amz-key-v2": base64.b64encode(b"w" * 184).decode(),
        "x-amz-iv": base64.b64encode(b"i" * 12).decode(),
        "x-amz-cek-alg": "AES/GCM/NoPadding",
        "x-amz-wrap-alg": "kms",
        "x-amz-tag-len": "128",
        "x-amz-matdesc": '{"aws:ses:rule-name": "r"}',
        LENGTH: "23",
    }
    for name, value in TAMPERED[case].items():
        if value is None:
            metadata.pop(name)
        else:
            metadata[name] = value
    if case in WELL_FORMED:  # as far as the envelope goes: KMS or the length check refuses
        parse_envelope(metadata)
        return
    with pytest.raises(EnvelopeError):
        parse_envelope(metadata)


@pytest.fixture
def setup(moto_s3: S3Server, tmp_path: Path) -> tuple[SesWriter, str, S3Store]:
    return encrypted_mailbox(moto_s3, tmp_path / "spool", PREFIX)


# moto stores metadata as HTTP headers: latin-1 text only, so the superscript is left to the
# parser test above.
STORED = sorted(set(TAMPERED) - {"length-superscript"})


@pytest.mark.parametrize("case", STORED)
async def test_tampered_envelope_is_undecryptable(
    setup: tuple[SesWriter, str, S3Store], case: str, caplog: pytest.LogCaptureFixture
) -> None:
    ses, bucket, store = setup
    ses.put(bucket, PREFIX + case, MESSAGE, metadata=TAMPERED[case])
    chunks = store.stream(case)
    with (
        caplog.at_level(logging.WARNING, logger="pop3srv.storage"),
        pytest.raises(MessageUndecryptable),
    ):
        await anext(chunks)
    await chunks.aclose()
    messages = [record.getMessage() for record in caplog.records]
    assert any(case in message for message in messages), messages
    assert not any("unreachable" in message for message in messages), messages
