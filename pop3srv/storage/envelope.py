"""The S3 client-side encryption envelope SES writes when its S3 action encrypts mail with KMS.

Pure: no I/O, no KMS. It owns reading the envelope from an object's user metadata and the
content cipher that turns ciphertext chunks back into the message.

* An object is *encrypted* when any envelope field is in its metadata (``x-amz-key-v2``,
  ``x-amz-key``, ``x-amz-iv``, ``x-amz-cek-alg``, ``x-amz-wrap-alg``, ``x-amz-matdesc``): such
  an object is never served as it is stored, and a partial envelope is malformed.
* Supported: the data key wrapped by KMS (``x-amz-wrap-alg`` ``kms``, or ``kms+context`` whose
  encryption context must also name the content algorithm as ``aws:x-amz-cek-alg``, so a
  GCM object cannot be presented as CBC); content ``AES/GCM/NoPadding`` (12-byte IV, 128-bit tag
  appended to the ciphertext) and the older ``AES/CBC/PKCS5Padding`` (16-byte IV). The
  encryption context is ``x-amz-matdesc`` (a JSON object of strings), passed to KMS verbatim.
* ``ContentCipher`` decrypts chunk by chunk; ``finish`` verifies the GCM tag (or the CBC
  padding) and the declared plaintext length. Callers must not release a byte before
  ``finish`` succeeded: that is what ``storage/encrypted.py`` does.

Errors (``EnvelopeError``) name the field that is wrong, never a value from it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

GCM = "AES/GCM/NoPadding"
CBC = "AES/CBC/PKCS5Padding"
WRAP_KMS = "kms"
WRAP_KMS_CONTEXT = "kms+context"
#: The context entry ``kms+context`` binds the content algorithm with.
CEK_ALG_CONTEXT_KEY = "aws:x-amz-cek-alg"
#: Octets of the GCM tag at the end of the object (``x-amz-tag-len`` 128).
TAG_BYTES = 16
#: The longest ciphertext KMS ``Decrypt`` takes (its ``CiphertextBlob`` bound).
MAX_WRAPPED_KEY = 6144
#: Digits of the longest plaintext length read (S3 objects stop at 5 TiB: 13 digits).
MAX_LENGTH_DIGITS = 18

KEY_V2 = "x-amz-key-v2"
KEY_V1 = "x-amz-key"
IV = "x-amz-iv"
CEK_ALG = "x-amz-cek-alg"
WRAP_ALG = "x-amz-wrap-alg"
TAG_LEN = "x-amz-tag-len"
MATDESC = "x-amz-matdesc"
PLAIN_LENGTH = "x-amz-unencrypted-content-length"

_ENVELOPE_FIELDS = (KEY_V2, KEY_V1, IV, CEK_ALG, WRAP_ALG, MATDESC)
_IV_BYTES = {GCM: 12, CBC: 16}
_AES_KEY_BYTES = (16, 24, 32)


class EnvelopeError(Exception):
    """The envelope is malformed or unsupported, or the content failed authentication."""


@dataclass(frozen=True)
class Envelope:
    """One encrypted object's envelope, as read from its metadata."""

    wrapped_key: bytes = field(repr=False)
    iv: bytes = field(repr=False)
    cek_alg: str
    wrap_alg: str
    #: the KMS encryption context (``x-amz-matdesc``)
    context: Mapping[str, str]
    #: ``x-amz-unencrypted-content-length`` when present
    plaintext_length: int | None = None

    @property
    def key_hint(self) -> str:
        """The KMS key named by the context (``kms_cmk_id``), or "" (KMS knows it)."""
        return self.context.get("kms_cmk_id", "")

    def cache_key(self) -> tuple[bytes, str]:
        """What identifies the data key: the wrapped key and the context it is bound to."""
        return self.wrapped_key, json.dumps(dict(self.context), sort_keys=True)


def lower_keys(metadata: Mapping[str, str]) -> dict[str, str]:
    """User metadata with lower-case names (S3 and HTTP header spelling differ)."""
    return {name.lower(): value for name, value in metadata.items()}


def is_encrypted(metadata: Mapping[str, str]) -> bool:
    """Whether the object carries any envelope field (``metadata`` with lower-case names)."""
    return any(name in metadata for name in _ENVELOPE_FIELDS)


def parse_envelope(metadata: Mapping[str, str]) -> Envelope:
    """The envelope in ``metadata`` (lower-case names, no ``x-amz-meta-`` prefix)."""
    if KEY_V2 not in metadata:
        if KEY_V1 in metadata:
            raise EnvelopeError("x-amz-key (a key not wrapped by KMS) is not supported")
        raise EnvelopeError("x-amz-key-v2 is missing")
    wrap_alg = _required(metadata, WRAP_ALG)
    if wrap_alg not in (WRAP_KMS, WRAP_KMS_CONTEXT):
        raise EnvelopeError("x-amz-wrap-alg is not kms or kms+context")
    cek_alg = _required(metadata, CEK_ALG)
    if cek_alg not in _IV_BYTES:
        raise EnvelopeError("x-amz-cek-alg is not AES/GCM/NoPadding or AES/CBC/PKCS5Padding")
    wrapped_key = _base64(metadata, KEY_V2)
    if len(wrapped_key) > MAX_WRAPPED_KEY:
        raise EnvelopeError(f"x-amz-key-v2 is longer than KMS takes ({MAX_WRAPPED_KEY} octets)")
    iv = _base64(metadata, IV)
    if len(iv) != _IV_BYTES[cek_alg]:
        raise EnvelopeError("x-amz-iv has the wrong length for x-amz-cek-alg")
    if cek_alg == GCM and metadata.get(TAG_LEN, "128") != "128":
        raise EnvelopeError("x-amz-tag-len is not 128")
    context = _context(_required(metadata, MATDESC))
    if wrap_alg == WRAP_KMS_CONTEXT and context.get(CEK_ALG_CONTEXT_KEY) != cek_alg:
        raise EnvelopeError("x-amz-matdesc does not bind x-amz-cek-alg (kms+context)")
    return Envelope(wrapped_key, iv, cek_alg, wrap_alg, context, _length(metadata))


def _required(metadata: Mapping[str, str], name: str) -> str:
    value = metadata.get(name)
    if not value:
        raise EnvelopeError(f"{name} is missing")
    return value


def _base64(metadata: Mapping[str, str], name: str) -> bytes:
    try:
        decoded = base64.b64decode(_required(metadata, name), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"{name} is not base64") from exc
    if not decoded:
        raise EnvelopeError(f"{name} is empty")
    return decoded


def _context(matdesc: str) -> dict[str, str]:
    try:
        context = json.loads(matdesc)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise EnvelopeError("x-amz-matdesc is not JSON") from exc
    if not isinstance(context, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in context.items()
    ):
        raise EnvelopeError("x-amz-matdesc is not a JSON object of strings")
    return context


def _length(metadata: Mapping[str, str]) -> int | None:
    raw = metadata.get(PLAIN_LENGTH)
    if raw is None:
        return None
    # isdigit() alone takes "²" (int() does not) and any number of digits (int() stops at 4,300)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_LENGTH_DIGITS):
        raise EnvelopeError(f"{PLAIN_LENGTH} is not a number of at most {MAX_LENGTH_DIGITS} digits")
    return int(raw)


class ContentCipher:
    """Decrypts one object's content in chunks; nothing it returns is authentic before
    ``finish`` returned."""

    def __init__(self, envelope: Envelope, data_key: bytes) -> None:
        if len(data_key) not in _AES_KEY_BYTES:
            raise EnvelopeError("the data key is not an AES key")
        self._gcm = envelope.cek_alg == GCM
        self._expected = envelope.plaintext_length
        aes = algorithms.AES(data_key)
        self._aead = Cipher(aes, modes.GCM(envelope.iv)).decryptor() if self._gcm else None
        self._cbc = None if self._gcm else Cipher(aes, modes.CBC(envelope.iv)).decryptor()
        self._unpadder = None if self._gcm else padding.PKCS7(128).unpadder()
        self._tail = b""  # GCM: the last TAG_BYTES seen, which may be the tag
        self.plaintext_bytes = 0

    def update(self, chunk: bytes) -> bytes:
        """The plaintext of ``chunk`` (possibly shorter: GCM holds back a possible tag)."""
        if self._gcm:
            out = self._gcm_update(chunk)
        else:
            assert self._cbc is not None and self._unpadder is not None
            out = self._unpadder.update(self._cbc.update(chunk))
        self.plaintext_bytes += len(out)
        return out

    def _gcm_update(self, chunk: bytes) -> bytes:
        assert self._aead is not None
        if len(chunk) >= TAG_BYTES:
            out = self._aead.update(self._tail) if self._tail else b""
            view = memoryview(chunk)
            out += self._aead.update(view[:-TAG_BYTES])
            self._tail = bytes(view[-TAG_BYTES:])
            return out
        joined = self._tail + chunk
        cut = len(joined) - TAG_BYTES
        self._tail = joined[max(cut, 0) :]
        return self._aead.update(joined[:cut]) if cut > 0 else b""

    def finish(self) -> bytes:
        """The last plaintext octets; raises ``EnvelopeError`` unless the content is authentic
        (GCM tag) or at least well formed (CBC padding), and of the declared length."""
        try:
            if self._aead is not None:
                if len(self._tail) != TAG_BYTES:
                    raise EnvelopeError("the ciphertext is shorter than its tag")
                out = self._aead.finalize_with_tag(self._tail)
            else:
                assert self._cbc is not None and self._unpadder is not None
                out = self._unpadder.update(self._cbc.finalize())
                out += self._unpadder.finalize()
        except InvalidTag as exc:
            raise EnvelopeError("the ciphertext failed authentication (GCM tag)") from exc
        except ValueError as exc:
            raise EnvelopeError("the ciphertext is malformed (CBC padding or length)") from exc
        self.plaintext_bytes += len(out)
        if self._expected is not None and self._expected != self.plaintext_bytes:
            raise EnvelopeError(f"the plaintext does not have the length {PLAIN_LENGTH} declares")
        return out
