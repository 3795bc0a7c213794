"""Probe 5: log lines about SES-encrypted messages carried the S3 key, and the encryption
context's key names and key id from the object's own metadata (``x-amz-matdesc``), raw.

Whoever can write into a mailbox's prefix chooses them: a key (or a JSON-escaped context key)
with CR/LF forged whole log lines for the operator, ANSI escapes re-coloured or hid them on a
terminal. The other store lines go through ``logsetup.event`` fields, which escape them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pop3srv.storage.base import MessageUndecryptable, StoreError
from pop3srv.storage.s3 import S3Store
from tests.s3.servers import S3Server
from tests.s3.ses import SesWriter
from tests.security.support import encrypted_mailbox

pytest_plugins = ("tests.s3.plugin",)

PREFIX = "inbox/"
FORGED = "\r2026-11-30 12:00:00,000 INFO pop3srv.login: login user=admin \x1b[8m"
NEWLINE = "\n2026-11-30 12:00:00,000 INFO pop3srv.login: forged"
MESSAGE = b"Subject: hi\r\n\r\nhello\r\n"


@pytest.fixture
def setup(moto_s3: S3Server, tmp_path: Path) -> tuple[SesWriter, str, S3Store]:
    return encrypted_mailbox(moto_s3, tmp_path / "spool", PREFIX)


async def _refused(store: S3Store, key: str, error: type[StoreError] = StoreError) -> None:
    chunks = store.stream(key)
    with pytest.raises(error):
        await anext(chunks)
    await chunks.aclose()


def _one_line_each(caplog: pytest.LogCaptureFixture) -> str:
    messages = [record.getMessage() for record in caplog.records]
    assert messages, "the failure was logged"
    for message in messages:
        assert "\n" not in message and "\r" not in message and "\x1b" not in message, message
    return "\n".join(messages)


async def test_an_s3_key_cannot_forge_a_log_line(
    setup: tuple[SesWriter, str, S3Store], caplog: pytest.LogCaptureFixture
) -> None:
    ses, bucket, store = setup
    name = "tampered" + FORGED
    body, meta = ses.encrypt(name, MESSAGE)
    ses.s3.client.put_object(
        Bucket=bucket, Key=PREFIX + name, Body=bytes([body[0] ^ 1]) + body[1:], Metadata=meta
    )
    with caplog.at_level(logging.ERROR, logger="pop3srv.storage"):
        await _refused(store, name, MessageUndecryptable)
    text = _one_line_each(caplog)
    assert "tampered" in text and "cannot be decrypted" in text
    assert "\\r2026-11-30" in text  # still there for the operator, escaped


async def test_metadata_cannot_forge_a_log_line(
    setup: tuple[SesWriter, str, S3Store], caplog: pytest.LogCaptureFixture
) -> None:
    """Context key names (JSON can carry a newline as ``\\n`` in ASCII metadata) and the
    ``kms_cmk_id`` hint reach the KMS failure lines."""
    ses, bucket, store = setup
    forged = FORGED + NEWLINE
    context = {**ses.context("ctx"), "x" + forged: "y", "kms_cmk_id": "key" + forged}
    ses.put(bucket, PREFIX + "ctx", MESSAGE, metadata={"x-amz-matdesc": json.dumps(context)})
    with caplog.at_level(logging.WARNING, logger="pop3srv.storage"):
        await _refused(store, "ctx")
    text = _one_line_each(caplog)
    assert "ctx" in text
