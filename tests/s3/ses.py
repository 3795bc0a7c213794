"""Objects written exactly as SES's S3 action writes them when it encrypts mail with KMS.

Per message, SES asks KMS ``GenerateDataKey`` (AES-256) under the rule's key with its
encryption context ``{"aws:ses:message-id", "aws:ses:rule-name", "aws:ses:source-account"}``,
encrypts the raw message with AES-256-GCM under a random 12-byte IV (the 16-byte tag appended
to the ciphertext), stores the ciphertext as the object body and describes the envelope in the
user metadata: ``x-amz-key-v2`` (the wrapped data key, base64), ``x-amz-iv``,
``x-amz-cek-alg``, ``x-amz-wrap-alg``, ``x-amz-tag-len``, ``x-amz-matdesc`` (the context as
JSON) and ``x-amz-unencrypted-content-length``.

``wrap="kms"`` is the form SES writes; ``wrap="kms+context"`` is the newer client format, whose
context also binds ``aws:x-amz-cek-alg``; ``cbc=True`` writes an ``AES/CBC/PKCS5Padding``
object of the older encryption client. KMS is moto's server mode on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.s3.servers import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server, get_server

ACCOUNT = "123456789012"
RULE = "inbox-rule"


def kms_client(endpoint_url: str) -> Any:
    return boto3.session.Session().client(
        "kms",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


@dataclass
class SesWriter:
    """Writes SES-encrypted messages into buckets of ``s3`` with a key of moto's KMS."""

    s3: S3Server
    kms_endpoint_url: str
    key_id: str = ""
    kms: Any = field(default=None, repr=False)

    @classmethod
    def create(cls, s3: S3Server, kms: Any = None, kms_endpoint_url: str = "") -> SesWriter:
        """A writer with a new KMS key: on moto's shared server unless ``kms`` (a client of
        ``kms_endpoint_url``) is given."""
        if kms is None:
            kms_endpoint_url = get_server("moto").endpoint_url
            kms = kms_client(kms_endpoint_url)
        key_id = kms.create_key(Description="SES receipt rule key")["KeyMetadata"]["Arn"]
        return cls(s3, kms_endpoint_url, key_id, kms)

    def context(self, message_id: str) -> dict[str, str]:
        return {
            "aws:ses:message-id": message_id,
            "aws:ses:rule-name": RULE,
            "aws:ses:source-account": ACCOUNT,
        }

    def encrypt(
        self, message_id: str, raw: bytes, *, wrap: str = "kms", cbc: bool = False
    ) -> tuple[bytes, dict[str, str]]:
        """The object body and user metadata SES stores for ``raw``."""
        cek_alg = "AES/CBC/PKCS5Padding" if cbc else "AES/GCM/NoPadding"
        context = self.context(message_id)
        if wrap == "kms+context":
            context["aws:x-amz-cek-alg"] = cek_alg
        data_key = self.kms.generate_data_key(
            KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=context
        )
        key: bytes = data_key["Plaintext"]
        if cbc:
            iv = os.urandom(16)
            padder = padding.PKCS7(128).padder()
            padded = padder.update(raw) + padder.finalize()
            encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
            body = encryptor.update(padded) + encryptor.finalize()
        else:
            iv = os.urandom(12)
            body = AESGCM(key).encrypt(iv, raw, None)
        metadata = {
            "x-amz-key-v2": base64.b64encode(data_key["CiphertextBlob"]).decode(),
            "x-amz-iv": base64.b64encode(iv).decode(),
            "x-amz-cek-alg": cek_alg,
            "x-amz-wrap-alg": wrap,
            "x-amz-matdesc": json.dumps(context),
            "x-amz-unencrypted-content-length": str(len(raw)),
        }
        if not cbc:
            metadata["x-amz-tag-len"] = "128"
        return body, metadata

    def put(
        self,
        bucket: str,
        key: str,
        raw: bytes,
        *,
        wrap: str = "kms",
        cbc: bool = False,
        metadata: dict[str, str | None] | None = None,
        body: bytes | None = None,
    ) -> None:
        """Store ``raw`` as SES would under ``key``; ``metadata`` changes (None: drop the field)
        and ``body`` (a replacement ciphertext) make broken objects for failure tests."""
        ciphertext, meta = self.encrypt(key.rsplit("/", 1)[-1], raw, wrap=wrap, cbc=cbc)
        for name, value in (metadata or {}).items():
            if value is None:
                meta.pop(name, None)
            else:
                meta[name] = value
        self.s3.client.put_object(
            Bucket=bucket, Key=key, Body=ciphertext if body is None else body, Metadata=meta
        )

    def ciphertext(self, bucket: str, key: str) -> bytes:
        return self.s3.get(bucket, key)
