"""Unwrapping the data keys of SES-encrypted messages with KMS ``Decrypt``.

* The KMS client comes from the shared ``S3Pool`` (``kms_client``): the mailbox's
  credentials and region, the standard regional endpoint or the location's
  ``kms_endpoint_url``; the call runs in a worker thread under the pool's limiter.
* One ``Decrypt`` per message: ``DataKeys`` belongs to one store (one login) and remembers the
  data keys it unwrapped, by wrapped key and encryption context, so TOP then RETR of the same
  message asks KMS once. Keys never outlive the login and are never shared between principals.
* Failures become store errors, each with one log line naming the key (never the data; the
  key ARN as KMS's error message names it, else the context's ``kms_cmk_id``): a refused
  ``kms:Decrypt`` (or a disabled or missing key) -> ``StoreDenied`` (``SYS/PERM``);
  a ciphertext KMS rejects (wrong encryption context, corrupted data key) ->
  ``MessageUndecryptable`` (``SYS/PERM``); throttling, KMS outages, an unreachable endpoint
  -> ``StoreUnavailable`` (``SYS/TEMP``).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from pop3srv.logsetup import printable
from pop3srv.storage.base import (
    MessageUndecryptable,
    S3Location,
    StoreDenied,
    StoreError,
    StoreUnavailable,
)
from pop3srv.storage.blocking import S3_FAILURES, Timed
from pop3srv.storage.envelope import Envelope
from pop3srv.storage.pool import S3Pool
from pop3srv.storage.s3errors import annotate, error_code

log = logging.getLogger(__name__)

#: Data keys one login keeps (a TOP loop followed by RETRs reuses them).
CACHE_SIZE = 256

#: KMS error codes meaning these credentials may not use this key (permanent).
DENIED = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "AccessDenied",
    }
)
#: KMS error codes meaning the key cannot be used now or ever (permanent).
KEY_STATE = frozenset({"DisabledException", "NotFoundException", "KMSInvalidStateException"})
#: KMS error codes meaning this data key cannot be unwrapped for this context (permanent).
UNDECRYPTABLE = frozenset(
    {"InvalidCiphertextException", "IncorrectKeyException", "InvalidKeyUsageException"}
)

_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d*:(?:key|alias)/[A-Za-z0-9/_-]+")


@dataclass(frozen=True)
class DataKey:
    """An unwrapped data key and the KMS key that wrapped it (for log lines)."""

    plaintext: bytes = field(repr=False)
    key_arn: str


class DataKeys:
    """The data keys one store unwrapped, and the KMS calls that unwrap them."""

    def __init__(self, pool: S3Pool, location: S3Location, *, cache_size: int = CACHE_SIZE):
        self._pool = pool
        self._location = location
        self._cache: OrderedDict[tuple[bytes, str], DataKey] = OrderedDict()
        self._cache_size = cache_size
        self.kms_calls = 0

    async def unwrap(self, envelope: Envelope, *, name: str) -> DataKey:
        """The plaintext data key of ``envelope``; ``name`` (the message) is for the log."""
        cache_key = envelope.cache_key()
        key = self._cache.get(cache_key)
        if key is not None:
            self._cache.move_to_end(cache_key)
            return key
        client = await self._pool.kms_client(self._location)
        key = await self._decrypt(client, envelope, name)
        self._cache[cache_key] = key
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return key

    async def _decrypt(self, client: Any, envelope: Envelope, name: str) -> DataKey:
        call = Timed(
            partial(
                client.decrypt,
                CiphertextBlob=envelope.wrapped_key,
                EncryptionContext=dict(envelope.context),
            )
        )
        self.kms_calls += 1
        try:
            response = await call.in_thread(self._pool.limiter)
        except S3_FAILURES as exc:
            error = self._failure(exc, envelope, name)
            raise annotate(error, exc, "kms:Decrypt") from exc  # the session's failure log
        finally:
            if call.seconds is not None:
                self._pool.metrics.kms_request_duration_seconds.observe(call.seconds)
        key = response.get("Plaintext")
        if not isinstance(key, bytes):
            raise StoreUnavailable("KMS Decrypt returned no data key")
        return DataKey(key, str(response.get("KeyId") or envelope.key_hint or "?"))

    def _failure(self, exc: Exception, envelope: Envelope, name: str) -> StoreError:
        """The store error for a failed ``Decrypt``, logged with the key it concerned. The
        message's key, the key hint and the context's names come from the object (whoever
        wrote it): printable only."""
        name = printable(name)
        if not isinstance(exc, ClientError):
            log.warning(
                "KMS Decrypt for message %s failed: %s (KMS endpoint %s unreachable?)",
                name,
                type(exc).__name__,
                self._location.kms_endpoint_url or f"of region {self._location.region}",
            )
            return StoreUnavailable("KMS unavailable")
        code, status = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "") or "")
        hint = printable(envelope.key_hint) if envelope.key_hint else ""
        key = _key_arn(message) or hint or "(named only inside the wrapped data key)"
        if code in KEY_STATE:
            log.error(
                "KMS Decrypt refused for message %s: %s: key %s is disabled, pending deletion "
                "or does not exist in region %s",
                name,
                code,
                key,
                self._location.region,
            )
            return StoreDenied(f"KMS Decrypt failed: {code}")
        if code in DENIED or status == 403:
            log.error(
                "KMS Decrypt refused for message %s: %s (HTTP %s): missing permission "
                "kms:Decrypt on key %s for the server's credentials, with SES's encryption "
                "context (aws:ses:source-account, aws:ses:rule-name)",
                name,
                code or "error",
                status or "?",
                key,
            )
            return StoreDenied(f"KMS Decrypt failed: {code or status}")
        if code in UNDECRYPTABLE:
            log.error(
                "message %s cannot be decrypted: KMS refused its data key (%s) for key %s; "
                "the encryption context (keys: %s) or the wrapped key does not match",
                name,
                code,
                key,
                ", ".join(printable(name) for name in sorted(envelope.context)),
            )
            return MessageUndecryptable(f"KMS Decrypt failed: {code}")
        log.warning(
            "KMS Decrypt for message %s failed: %s (HTTP %s), key %s; try again later",
            name,
            code or "error",
            status or "?",
            key,
        )
        return StoreUnavailable(f"KMS Decrypt failed: {code or 'error'}")


def _key_arn(message: str) -> str:
    """The KMS key ARN an AWS error message names, or ""."""
    match = _KEY_ARN.search(message)
    return match.group(0) if match else ""
