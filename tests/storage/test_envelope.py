"""The client-side encryption envelope: parsing metadata, and the chunked content cipher
(round trips at every chunking, tampering, truncation, CBC padding). Synchronous, no KMS: the
data key is generated here as KMS would hand it out."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from pop3srv.storage.envelope import (
    CBC,
    GCM,
    ContentCipher,
    EnvelopeError,
    is_encrypted,
    lower_keys,
    parse_envelope,
)

KEY = bytes(range(32))
CONTEXT = {
    "aws:ses:message-id": "0000abcd",
    "aws:ses:rule-name": "inbox-rule",
    "aws:ses:source-account": "123456789012",
}


def metadata(**changes: str | None) -> dict[str, str]:
    meta = {
        "x-amz-key-v2": base64.b64encode(b"wrapped data key").decode(),
        "x-amz-iv": base64.b64encode(b"\x01" * 12).decode(),
        "x-amz-cek-alg": GCM,
        "x-amz-wrap-alg": "kms",
        "x-amz-tag-len": "128",
        "x-amz-matdesc": json.dumps(CONTEXT),
        "x-amz-unencrypted-content-length": "5",
    }
    for argument, value in changes.items():
        name = argument.replace("_", "-")
        if value is None:
            meta.pop(name, None)
        else:
            meta[name] = value
    return meta


def test_a_ses_envelope_is_parsed() -> None:
    envelope = parse_envelope(metadata())
    assert envelope.wrapped_key == b"wrapped data key"
    assert envelope.iv == b"\x01" * 12
    assert envelope.cek_alg == GCM
    assert envelope.context == CONTEXT
    assert envelope.plaintext_length == 5
    assert "wrapped" not in repr(envelope)


def test_kms_context_binds_the_content_algorithm() -> None:
    bound = json.dumps({**CONTEXT, "aws:x-amz-cek-alg": GCM})
    envelope = parse_envelope(metadata(x_amz_wrap_alg="kms+context", x_amz_matdesc=bound))
    assert envelope.context["aws:x-amz-cek-alg"] == GCM


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"x_amz_key_v2": None}, "x-amz-key-v2 is missing"),
        ({"x_amz_key_v2": None, "x_amz_key": "abc="}, "x-amz-key (a key not wrapped by KMS)"),
        ({"x_amz_iv": None}, "x-amz-iv is missing"),
        ({"x_amz_iv": "not base64!"}, "x-amz-iv is not base64"),
        ({"x_amz_iv": base64.b64encode(b"x" * 16).decode()}, "x-amz-iv has the wrong length"),
        ({"x_amz_cek_alg": None}, "x-amz-cek-alg is missing"),
        ({"x_amz_cek_alg": "AES/CTR/NoPadding"}, "x-amz-cek-alg is not"),
        ({"x_amz_wrap_alg": None}, "x-amz-wrap-alg is missing"),
        ({"x_amz_wrap_alg": "AESWrap"}, "x-amz-wrap-alg is not kms"),
        ({"x_amz_tag_len": "96"}, "x-amz-tag-len is not 128"),
        ({"x_amz_matdesc": None}, "x-amz-matdesc is missing"),
        ({"x_amz_matdesc": "{not json"}, "x-amz-matdesc is not JSON"),
        ({"x_amz_matdesc": '{"a": 1}'}, "not a JSON object of strings"),
        ({"x_amz_matdesc": '["a"]'}, "not a JSON object of strings"),
        ({"x_amz_wrap_alg": "kms+context"}, "does not bind x-amz-cek-alg"),
        ({"x_amz_unencrypted_content_length": "-1"}, "is not a number"),
    ],
)
def test_malformed_envelopes_name_the_field(changes: dict[str, str | None], error: str) -> None:
    with pytest.raises(EnvelopeError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_envelope(metadata(**changes))


def test_kms_context_with_another_algorithm_is_refused() -> None:
    """A GCM object presented as CBC (a downgrade) is refused before KMS is asked."""
    bound = json.dumps({**CONTEXT, "aws:x-amz-cek-alg": GCM})
    changes = {
        "x_amz_wrap_alg": "kms+context",
        "x_amz_matdesc": bound,
        "x_amz_cek_alg": CBC,
        "x_amz_iv": base64.b64encode(b"\x01" * 16).decode(),
    }
    with pytest.raises(EnvelopeError, match="does not bind"):
        parse_envelope(metadata(**changes))


@pytest.mark.parametrize(
    ("meta", "encrypted"),
    [
        ({}, False),
        ({"content-type": "message/rfc822"}, False),
        ({"x-amz-key-v2": "x"}, True),
        ({"x-amz-iv": "x"}, True),
        ({"x-amz-matdesc": "{}"}, True),
        ({"x-amz-key": "x"}, True),
    ],
)
def test_any_envelope_field_marks_an_object_encrypted(
    meta: dict[str, str], encrypted: bool
) -> None:
    assert is_encrypted(meta) is encrypted


def test_metadata_names_are_compared_in_lower_case() -> None:
    assert is_encrypted(lower_keys({"X-Amz-Key-V2": "x"}))


def _gcm(raw: bytes) -> tuple[bytes, dict[str, str]]:
    iv = os.urandom(12)
    meta = metadata(
        x_amz_iv=base64.b64encode(iv).decode(), x_amz_unencrypted_content_length=str(len(raw))
    )
    return AESGCM(KEY).encrypt(iv, raw, None), meta


def _cbc(raw: bytes) -> tuple[bytes, dict[str, str]]:
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(iv)).encryptor()
    body = encryptor.update(padder.update(raw) + padder.finalize()) + encryptor.finalize()
    meta = metadata(
        x_amz_iv=base64.b64encode(iv).decode(),
        x_amz_cek_alg=CBC,
        x_amz_tag_len=None,
        x_amz_unencrypted_content_length=str(len(raw)),
    )
    return body, meta


def _decrypt(body: bytes, meta: dict[str, str], cuts: list[int]) -> bytes:
    cipher = ContentCipher(parse_envelope(meta), KEY)
    out, start = [], 0
    for cut in [*sorted(cuts), len(body)]:
        out.append(cipher.update(body[start:cut]))
        start = max(start, cut)
    out.append(cipher.finish())
    assert cipher.plaintext_bytes == len(b"".join(out))
    return b"".join(out)


@given(raw=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3100), max_size=8))
@pytest.mark.parametrize("encrypt", [_gcm, _cbc])
def test_any_chunking_decrypts_to_the_message(encrypt: object, raw: bytes, cuts: list[int]) -> None:
    assert callable(encrypt)
    body, meta = encrypt(raw)
    assert _decrypt(body, meta, [min(cut, len(body)) for cut in cuts]) == raw


@pytest.mark.parametrize("position", [0, 100, -17, -1])
def test_a_flipped_byte_fails_authentication(position: int) -> None:
    body, meta = _gcm(b"Subject: x\r\n\r\n" + b"body line\r\n" * 20)
    tampered = bytearray(body)
    tampered[position] ^= 0x01
    with pytest.raises(EnvelopeError, match="failed authentication"):
        _decrypt(bytes(tampered), meta, [50])


def test_a_truncated_object_fails() -> None:
    body, meta = _gcm(b"Subject: x\r\n\r\nbody\r\n")
    with pytest.raises(EnvelopeError):
        _decrypt(body[:-1], meta, [])
    with pytest.raises(EnvelopeError, match="shorter than its tag"):
        _decrypt(body[:10], meta, [])


def test_a_wrong_declared_length_fails() -> None:
    body, meta = _gcm(b"Subject: x\r\n\r\nbody\r\n")
    meta["x-amz-unencrypted-content-length"] = "3"
    with pytest.raises(EnvelopeError, match="length"):
        _decrypt(body, meta, [])


def test_cbc_with_broken_padding_fails() -> None:
    body, meta = _cbc(b"Subject: x\r\n\r\nbody\r\n")
    with pytest.raises(EnvelopeError, match="CBC padding"):
        _decrypt(body[:-1], meta, [])


def test_a_data_key_that_is_no_aes_key_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="not an AES key"):
        ContentCipher(parse_envelope(metadata()), b"short")
