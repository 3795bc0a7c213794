"""SASL message encoding for POP3 AUTH (RFC 5034) and the PLAIN mechanism (RFC 4616).

This module owns the base64 layer of SASL responses (``=`` is an empty initial response,
RFC 5034 section 4) and the PLAIN message format ``[authzid] NUL authcid NUL passwd``. It checks
shape only; whether the credentials are good is for the authentication backend.
"""

from __future__ import annotations

import base64
import binascii


def decode_response(text: str) -> bytes:
    """Decodes a client's SASL response; ``=`` means empty. ValueError if not strict base64."""
    text = text.strip(" ")
    if text == "=":
        return b""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("invalid base64 in SASL response") from exc


def encode_response(data: bytes) -> str:
    """Base64 of a SASL message as a client sends it; empty data gives ``=``."""
    return base64.b64encode(data).decode("ascii") if data else "="


def decode_plain(b64: str) -> tuple[str, str, str]:
    """(authzid, authcid, password) from a base64 PLAIN response; authzid may be ``""``.

    ValueError if the base64, the UTF-8 or the shape is wrong (authcid and password must be
    non-empty, exactly two NUL separators, RFC 4616 section 2).
    """
    parts = decode_response(b64).split(b"\x00")
    if len(parts) != 3:
        raise ValueError("PLAIN response needs exactly two NUL separators")
    try:
        authzid, authcid, password = (part.decode("utf-8") for part in parts)
    except UnicodeDecodeError as exc:
        raise ValueError("PLAIN response is not UTF-8") from exc
    if not authcid or not password:
        raise ValueError("PLAIN response needs a user name and a password")
    return authzid, authcid, password


def encode_plain(authzid: str, authcid: str, password: str) -> str:
    """The base64 PLAIN response a client would send (the inverse of ``decode_plain``)."""
    for part in (authzid, authcid, password):
        if "\x00" in part:
            raise ValueError("PLAIN fields must not contain NUL")
    message = "\x00".join((authzid, authcid, password)).encode("utf-8")
    return encode_response(message)
